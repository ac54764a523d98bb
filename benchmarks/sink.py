"""An SMTP sink for the benchmark when Postfix's smtp-sink is not installed: accepts and
counts every message. Usage: python benchmarks/sink.py PORT"""

import sys
import time

from aiosmtpd.controller import Controller


class Count:
    messages = 0
    bytes = 0

    async def handle_DATA(self, server, session, envelope):
        Count.messages += 1
        Count.bytes += len(envelope.original_content or b"")
        return "250 OK"


if __name__ == "__main__":
    controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    try:
        while True:
            time.sleep(5)
            print(f"messages={Count.messages} bytes={Count.bytes}", flush=True)
    finally:
        controller.stop()
