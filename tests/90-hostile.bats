#!/usr/bin/env bats
# The hostile-input table (tests/hostile.tsv): every tool, fed what it must
# refuse or pass through, answers with the status and the one-line error the
# table expects, and never dies of a signal, hangs, or grows without bound.

load helpers

setup_file() {
	export HOSTILE_IN=$BATS_FILE_TMPDIR/in
	python3 "$BATS_TEST_DIRNAME/hostile/gen.py" "$HOSTILE_IN"
}

# Sanitizer builds carry shadow memory: allow them more.
rss_limit_kib() {
	case $TCPMON_BIN in
	*/san/*) echo $((1536 * 1024)) ;;
	*) echo $((256 * 1024)) ;;
	esac
}

# run_rows TOOL: runs every row of the table for TOOL; prints each row that
# misbehaves and fails if any did.
run_rows() {
	local want_tool=$1 tool args input status pattern line n=0 bad=0
	local a rc rss limit
	limit=$(rss_limit_kib)
	while IFS=$'\t' read -r tool args input status pattern; do
		case $tool in "#"*|"") continue ;; esac
		[ "$tool" = "$want_tool" ] || continue
		n=$((n + 1))
		args=${args//\{T\}/$T}
		args=${args//\{\}/$HOSTILE_IN/$input}
		rc=0
		# shellcheck disable=SC2086
		timeout 60 /usr/bin/time -f %M -o "$T/rss" "$(bin "$tool")" $args \
		    < /dev/null > /dev/null 2> "$T/err" || rc=$?
		rss=$(tail -n 1 "$T/rss" 2>/dev/null)
		line=$(grep -v '^Command exited with non-zero status' "$T/err" | head -n 1 || true)
		a="$tool $args [$input]"
		if [ "$rc" -ne "$status" ]; then
			echo "# $a: exit $rc, want $status; stderr: $line"
			bad=$((bad + 1))
		elif [ "$pattern" = - ] && [ -n "$line" ]; then
			echo "# $a: stderr should be empty: $line"
			bad=$((bad + 1))
		elif [ "$pattern" != - ] && ! grep -Eq -- "$pattern" <<< "$line"; then
			echo "# $a: stderr '$line' does not match /$pattern/"
			bad=$((bad + 1))
		elif [ -n "$rss" ] && [ "$rss" -gt "$limit" ]; then
			echo "# $a: peak RSS $rss KiB over $limit KiB"
			bad=$((bad + 1))
		fi
	done < "$BATS_TEST_DIRNAME/hostile.tsv"
	echo "# $want_tool: $n rows, $bad misbehaved"
	[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}

@test "hostile: tcpmon-tap" { run_rows tcpmon-tap; }
@test "hostile: tcpmon-grep" { run_rows tcpmon-grep; }
@test "hostile: tcpmon-fmt-xml" { run_rows tcpmon-fmt-xml; }
@test "hostile: tcpmon-fmt-json" { run_rows tcpmon-fmt-json; }
@test "hostile: tcpmon-send" { run_rows tcpmon-send; }
@test "hostile: tcpmon-relay" { run_rows tcpmon-relay; }
@test "hostile: tcpmon-diff" { run_rows tcpmon-diff; }
