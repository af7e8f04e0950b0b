# bench/measure.sh - sourced by the benchmarks.
# measure CMD INFILE: run CMD under /bin/sh with stdin from INFILE and stdout
# to /dev/null; print "SECONDS MAXRSS_KIB". GNU time measures the peak RSS
# of the command itself (it forks from a small C process, so the figure is
# not inflated by the parent's memory, as a fork from Python's would be).
measure() {
	_m_out=$(mktemp)
	/usr/bin/time -f '%e %M' -o "$_m_out" /bin/sh -c "$1" <"$2" >/dev/null || {
		echo "measure: command failed: $1" >&2
		rm -f "$_m_out"
		return 1
	}
	tail -n 1 "$_m_out"
	rm -f "$_m_out"
}
