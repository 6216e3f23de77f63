def _load_config():
    raise RuntimeError("config missing")


_load_config()


def handler(event, context):
    return 1
