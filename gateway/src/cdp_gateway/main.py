from cdp_common.app import serve

from cdp_gateway.bootstrap import build
from cdp_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    serve(build(settings), settings)


if __name__ == "__main__":
    main()
