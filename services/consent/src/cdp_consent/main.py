from cdp_common.app import serve

from cdp_consent.bootstrap import ConsentSettings, build


def main() -> None:
    settings = ConsentSettings()
    serve(build(settings), settings)


if __name__ == "__main__":
    main()
