"""Reference domain: the contracts dimension for every conid the portfolio has seen."""

from assets.factory import dataset_assets
from ibkr_pipelines.datasets import datasets_in_group

reference_assets = dataset_assets(datasets_in_group("reference"))
