"""``ibkr-pipelines``: run the simulator, the nightly ingestion (through Dagster), or a SQL query."""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from typing import Sequence

from ibkr_pipelines.errors import IbkrPipelinesError


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-20, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="ibkr-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulator", help="serve the IBKR Web API simulator on a loopback port until interrupted")
    sim.add_argument("--port", type=int, default=5000)
    sim.add_argument("--tls", action="store_true", help="HTTPS with a generated self-signed certificate")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--date", type=_date, default=None, help="the simulated 'today' (default: today in New York)")
    sim.add_argument("--logged-out", action="store_true", help="start without a gateway login")
    sim.add_argument("--brokerage-down", action="store_true", help="start without a brokerage session")
    sim.add_argument("--competing", action="store_true", help="another platform (TWS) holds the brokerage session")
    sim.add_argument("--paper", action="store_true", help="paper account ids (DF..., DU...)")
    sim.add_argument("--extra-subaccounts", type=int, default=0, metavar="N", help="N more FA client accounts")
    sim.add_argument("--limits", default=None, help="the simulator's own limits, e.g. global=50/1 (IBKR's by default)")
    oauth = sim.add_argument_group("OAuth 1.0a", "stand in for api.ibkr.com: register a consumer, "
                                   "then every request must be OAuth-signed (IBKR's OAuth limits)")
    oauth.add_argument("--oauth1-consumer", metavar="KEY", default=None, help="the consumer key to register")
    oauth.add_argument("--signature-public-key", metavar="PEM_PATH", default=None,
                       help="the consumer's RSA public signature key (PEM)")
    oauth.add_argument("--encryption-public-key", metavar="PEM_PATH", default=None,
                       help="the consumer's RSA public encryption key (PEM)")
    oauth.add_argument("--realm", default=None, help="limited_poa (default), test_realm for TESTCONS")
    oauth.add_argument("--credentials-out", metavar="FILE", default=None,
                       help="write the issued credentials as IBKR_OAUTH1_*=value lines to FILE (mode 0600); "
                            "default: print them to stdout")
    oauth.add_argument("--lst-seconds", type=float, default=86400.0, metavar="S",
                       help="live session token lifetime (IBKR: 24 h)")
    oauth2 = sim.add_argument_group("OAuth 2.0", "stand in for api.ibkr.com: register a private_key_jwt client "
                                    "(/oauth2/api/v1/token, /gw/api/v1/sso-sessions); combinable with OAuth 1.0a")
    oauth2.add_argument("--oauth2-client", metavar="ID", default=None, help="the client id to register")
    oauth2.add_argument("--key-id", metavar="KID", default=None, help="the key id (JWS header kid) of its public key")
    oauth2.add_argument("--public-key", metavar="PEM_PATH", default=None, help="the client's RSA public key (PEM)")
    oauth2.add_argument("--credential", metavar="USERNAME", default=None,
                        help="the IB username its SSO sessions are for (default: the simulated login's)")
    oauth2.add_argument("--bearer-seconds", type=float, default=86399.0, metavar="S",
                        help="access token and SSO session bearer lifetime (IBKR: expires_in 86399)")
    sim.add_argument("--secrets-out", metavar="FILE", default=None,
                     help="for secret scans in tests (IBKR has no such thing): append every live session token, "
                          "access token and bearer the simulator issues to FILE (mode 0600)")

    ingest = sub.add_parser("ingest", help="run the nightly ingestion through Dagster in this process (steps side by side)")
    ingest.add_argument("--date", type=_date, default=None, help="partition date (default: today in New York)")
    ingest.add_argument("--from", dest="start", type=_date, default=None,
                        help="first date of a backfill range (with --to): one run, range requests, one load per table")
    ingest.add_argument("--to", dest="end", type=_date, default=None, help="last date of a backfill range")
    ingest.add_argument("--select", default=None, help="comma-separated tables, e.g. positions,ledger")
    ingest.add_argument(
        "--allow-shrink",
        action="store_true",
        help="let a date's re-run replace landed rows with far fewer (e.g. positions really closed)",
    )

    rebuild = sub.add_parser("rebuild", help="rebuild tables from the raw archive, without calling IBKR")
    rebuild.add_argument("--table", action="append", default=None, help="a table to rebuild (repeatable; default all)")
    rebuild.add_argument("--from", dest="start", type=_date, default=None, help="first date (with --to)")
    rebuild.add_argument("--to", dest="end", type=_date, default=None, help="last date (with --from)")

    sub.add_parser("doctor", help="check settings, session, accounts, limits, pacing and storage, one line each")

    flex = sub.add_parser("flex", help="Flex statements saved from IBKR's portal")
    flex_sub = flex.add_subparsers(dest="flex_command", required=True)
    flex_import = flex_sub.add_parser("import", help="land Flex XML files (any query layout, years of history) "
                                                     "into the flex_* tables, idempotently")
    flex_import.add_argument("files", nargs="+", metavar="FILE", help="FlexQueryResponse XML files")

    report = sub.add_parser("report", help="write the portfolio report (one self-contained HTML file) from the warehouse")
    report.add_argument("--from", dest="start", type=_date, default=None, help="first date (default: the first landed)")
    report.add_argument("--to", dest="end", type=_date, default=None, help="last date (default: the last landed)")
    report.add_argument("--account", default=None, help="one account (default: every account and the whole login)")
    report.add_argument("--out", default=None, help="the HTML file (default: <IBKR_DATA_DIR>/reports/portfolio-report.html)")
    report.add_argument("--benchmark", default=None, metavar="CONID",
                        help="a conid with bars to compare returns with (default: IBKR_REPORT_BENCHMARK)")

    sql = sub.add_parser("sql", help="run a read-only SQL query on the warehouse")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=int, default=50)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; typed errors become one readable line and exit code 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "simulator":
            from ibkr_pipelines.simulator import serve

            try:
                serve(
                    port=args.port,
                    tls=args.tls,
                    seed=args.seed,
                    today=args.date,
                    logged_in=not args.logged_out,
                    brokerage_at_start=not args.brokerage_down,
                    competing=args.competing,
                    paper=args.paper,
                    extra_subaccounts=args.extra_subaccounts,
                    limits_spec=args.limits,
                    auth="oauth" if args.oauth1_consumer or args.oauth2_client else "gateway",
                    oauth1_consumer=args.oauth1_consumer,
                    signature_public_key=args.signature_public_key,
                    encryption_public_key=args.encryption_public_key,
                    realm=args.realm,
                    credentials_out=args.credentials_out,
                    lst_seconds=args.lst_seconds,
                    oauth2_client=args.oauth2_client,
                    key_id=args.key_id,
                    public_key=args.public_key,
                    credential=args.credential,
                    bearer_seconds=args.bearer_seconds,
                    secrets_out=args.secrets_out,
                )
            except ValueError as exc:  # a simulator setting it cannot use (its own --limits, a date...)
                print(f"error: {exc}", file=sys.stderr)
                return 2
            return 0
        if args.command == "ingest":
            from ibkr_pipelines.ingest_command import run_ingest

            return run_ingest(args.date, args.select, allow_shrink=args.allow_shrink, start=args.start, end=args.end)
        if args.command == "rebuild":
            from ibkr_pipelines.rebuild_command import run_rebuild

            return run_rebuild(args.table, args.start, args.end)
        if args.command == "flex":
            from ibkr_pipelines.flex_import import run_flex_import

            return run_flex_import(args.files)
        if args.command == "doctor":
            from ibkr_pipelines.doctor_command import run_doctor

            return run_doctor()
        if args.command == "report":
            from ibkr_pipelines.report.command import run_report

            return run_report(args.start, args.end, args.account, args.out, args.benchmark)
        if args.command == "sql":
            from ibkr_pipelines.sql_command import run_sql

            return run_sql(args.query, max_rows=args.max_rows)
    except IbkrPipelinesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
