from cdp_common.app import serve

from cdp_analytics.bootstrap import AnalyticsSettings, build


def main() -> None:
    settings = AnalyticsSettings()
    serve(build(settings), settings)


if __name__ == "__main__":
    main()
