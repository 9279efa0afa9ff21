from cdp_common.app import serve

from cdp_contacts.bootstrap import ContactsSettings, build


def main() -> None:
    settings = ContactsSettings()
    serve(build(settings), settings)


if __name__ == "__main__":
    main()
