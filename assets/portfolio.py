"""Portfolio domain: accounts, balances, positions and allocation, one daily snapshot each."""

from assets.factory import dataset_assets
from ibkr_pipelines.datasets import datasets_in_group

portfolio_assets = dataset_assets(datasets_in_group("portfolio"))
