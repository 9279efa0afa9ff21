from cdp_common.app import serve

from cdp_identity.bootstrap import IdentitySettings, build


def main() -> None:
    settings = IdentitySettings()
    serve(build(settings), settings)


if __name__ == "__main__":
    main()
