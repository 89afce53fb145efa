"""The container's health check: exit 0 if lmnh-pipes answers on its /healthz endpoint, else 1 with a reason.

/healthz is served only when the pipeline file has ``http: {address: "127.0.0.1:9108"}``; it says that the
process runs and serves HTTP, nothing more (``/ready`` says that partitions are assigned and the sink is
reachable). ``LMNH_PIPES_HEALTH_URL`` names another address.
"""

import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("LMNH_PIPES_HEALTH_URL", "http://127.0.0.1:9108/healthz")


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=4) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {URL} answered {exc.code}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"unhealthy: no answer from {URL} ({exc}); the pipeline file needs "
            f'http: {{address: "127.0.0.1:9108"}}, or run the container with --no-healthcheck',
            file=sys.stderr,
        )
        return 1
    print(f"healthy: {URL} answered {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
