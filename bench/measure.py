#!/usr/bin/env python3
"""measure.py - run a shell command, print "SECONDS MAXRSS_KB" on stdout.

Usage: bench/measure.py 'command' [stdin-file] [stdout-file]
Wall time from a monotonic clock; peak resident memory of the command's
process tree from getrusage(RUSAGE_CHILDREN), which reports the largest
child. The command runs under /bin/sh; stdin and stdout are files so the
terminal never slows it down. Exits with the command's status.
"""
import os
import resource
import subprocess
import sys
import time

cmd = sys.argv[1]
stdin = open(sys.argv[2], "rb") if len(sys.argv) > 2 and sys.argv[2] else subprocess.DEVNULL
stdout = open(sys.argv[3], "wb") if len(sys.argv) > 3 else subprocess.DEVNULL
t0 = time.monotonic()
rc = subprocess.call(["/bin/sh", "-c", cmd], stdin=stdin, stdout=stdout)
t1 = time.monotonic()
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{t1 - t0:.3f} {rss}")
sys.exit(rc)
