"""Duplicates across a graceful stop of a proxy back end (docs/proxy.md, docs/benchmarks.md).

Usage, on a running reference proxy cluster (`mailha up proxy` prints its run id):
    .venv/bin/python scripts/experiments/stop_duplicates.py RUN_ID [STOPS]

Four SMTP senders stream unique subjects to be2's users through the load balancers' VIP while
be2 is stopped (`docker stop`, 10 s grace) and started again STOPS times (default 6); after the
queues drain, every subject is counted in be2's INBOXes. Prints what was accepted, what arrived,
the subjects found twice and the ones missing. Take the cluster down with `mailha down RUN_ID`.
"""
import collections
import smtplib
import subprocess
import sys
import threading
import time
import uuid

VIP = "10.241.0.200"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    be2 = f"mailha-{sys.argv[1]}-be2-1"
    stops = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    stop, sent, lock = threading.Event(), [], threading.Lock()

    def sender(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            tok, user = f"dup-{n}-{i}-{uuid.uuid4().hex[:6]}", f"user{11 + i % 10}@example.test"
            try:
                s = smtplib.SMTP(VIP, 25, timeout=5)
                s.sendmail("t@example.test", [user], f"Subject: {tok}\r\n\r\nx\r\n")
                s.quit()
                with lock:
                    sent.append((user, tok))
            except (OSError, smtplib.SMTPException):
                pass  # refused or cut: not acknowledged, not counted
            time.sleep(0.02)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for k in range(stops):
        time.sleep(1.5)
        subprocess.run(["docker", "stop", "-t", "10", be2], capture_output=True)
        time.sleep(1)
        subprocess.run(["docker", "start", be2], capture_output=True)
        print(f"stop {k + 1}/{stops} done", flush=True)
        time.sleep(6)
    stop.set()
    for t in threads:
        t.join()
    print(f"accepted {len(sent)}; waiting 40 s for the queues to drain", flush=True)
    time.sleep(40)
    seen: collections.Counter = collections.Counter()
    for user in sorted({u for u, _ in sent}):
        out = subprocess.run(["docker", "exec", be2, "doveadm", "-f", "tab", "fetch", "-u", user, "hdr.subject",
                              "mailbox", "INBOX"], capture_output=True, text=True).stdout
        seen.update(line.split()[-1] for line in out.splitlines() if "dup-" in line)
    toks = {t for _, t in sent}
    dups = sorted(t for t, c in seen.items() if c > 1)
    print(f"arrived {len(seen)} distinct; twice or more: {len(dups)} {dups[:5]}; missing: {len(toks - set(seen))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
