#!/usr/bin/env bats
# tcpmon-fmt-json: JSON from nginx through the relay, formatted with the
# number text, key order and duplicate keys kept exactly; jq -S for the
# canonical comparison.

load helpers

DATA="$TESTS_DIR/data/fmt"

fmt_json() {
	timeout 30 "$(bin tcpmon-fmt-json)" "$@"
}

@test "fmt-json: gzip and plain JSON over keep-alive, numbers and keys exact" {
	mkdir -p "$T/www"
	cp "$DATA"/* "$T/www/"
	start_nginx "$T/www"
	start_relay -l 0 -t 127.0.0.1:"$NGINX_PORT" -o "$T/cap.tcpmon"
	timeout 20 curl -sf --compressed -o /dev/null \
	    "http://127.0.0.1:$RELAY_PORT/data.json" \
	    "http://127.0.0.1:$RELAY_PORT/problems.pjson" \
	    -H 'Content-Type: application/json' --data-binary @"$DATA/problems.pjson"
	stop_relay
	fmt_json "$T/cap.tcpmon" > "$T/out.tcpmon"
	run -0 httpmsgs "$T/out.tcpmon" xforms
	assert_output "1 c2s json
1 s2c dechunk,gunzip,json
1 c2s json
1 s2c json"
	httpmsgs "$T/out.tcpmon" bodies 1 s2c "$T/resp"
	diff <(jq -S . "$DATA/data.json") <(jq -S . "$T/resp.1")
	diff <(jq -S . "$DATA/problems.pjson") <(jq -S . "$T/resp.2")
	cat > "$T/want" <<-'EOF'
	{
	  "id": 12345678901234567890,
	  "price": 1.10,
	  "tiny": 1E-400,
	  "neg": -0,
	  "exp": 2.5e+10,
	  "name": "caf\u00e9 \"quoted\" \/ slash",
	  "dup": 1,
	  "dup": 2,
	  "z": true,
	  "a": false,
	  "n": null,
	  "empty": {},
	  "none": [],
	  "nested": [
	    {
	      "k": [
	        1,
	        [
	          2,
	          [
	            3
	          ]
	        ]
	      ]
	    },
	    "text"
	  ]
	}
	EOF
	diff "$T/want" "$T/resp.1"
	run -0 httpmsgs "$T/out.tcpmon" heads 1 s2c
	refute_line --regexp '^(Transfer|Content)-Encoding:'
	assert_line "Content-Length: $(wc -c < "$T/resp.1")"
	assert_line 'Content-Type: application/problem+json'
}

@test "fmt-json: malformed JSON passes unchanged, then a note with its line" {
	rec_data "$T/first" 1 s2c "$(printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"a": 1,\n "b": [1 2]}')"
	cp "$T/first" "$T/in"
	rec_data "$T/in" 2 c2s '[1,{"x":"y"}]'
	fmt_json "$T/in" > "$T/out"
	head -c "$(wc -c < "$T/first")" "$T/out" | cmp - "$T/first"
	run -0 cat "$T/out"
	assert_line "tcpmon-fmt-json: s2c message at byte 0 not formatted: JSON error at line 2: expected ',' or ']'"
	assert_line --regexp '^TCPMON/1 data conn=2 .* xform=json len=30$'
}

@test "fmt-json: JSON straight over TCP in one-byte records; other bytes untouched" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	printf '{"a":[1,2]}\n[{"b":"}"}]\nnot json' |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > /dev/null
	stop_relay
	httpmsgs "$T/cap.tcpmon" split "$T/split.tcpmon"
	fmt_json "$T/split.tcpmon" > "$T/out.tcpmon"
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/out.tcpmon" payload 1 c2s
	assert_output '{
  "a": [
    1,
    2
  ]
}

[
  {
    "b": "}"
  }
]

not json'
}

@test "fmt-json: XML and binary pass byte for byte; after fmt-xml in a pipeline" {
	rec_data "$T/in" 1 c2s "$(printf 'POST / HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 9\r\n\r\n<a>{}</a>')"
	printf 'TCPMON/1 data conn=2 src=t dir=s2c len=4\n\x00{\xff[\n' >> "$T/in"
	printf 'TCPMON/1 mystery conn=2 k=v len=0\n\n' >> "$T/in"
	fmt_json "$T/in" | cmp - "$T/in"
	rec_data "$T/in" 3 c2s '{"k":[true]}'
	"$(bin tcpmon-fmt-xml)" "$T/in" | fmt_json > "$T/out"
	run -0 httpmsgs "$T/out" xforms
	assert_output "1 c2s xml
2 s2c -
3 c2s json"
	run -0 fmt_json --compact "$T/in"
	assert_line '{"k":[true]}'
	run -0 fmt_json --help
	assert_line --index 0 "usage: tcpmon-fmt-json [-c | -i N] [-m SIZE] [--max-conns N] [FILE ...]"
}

@test "fmt-json --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-fmt-json fmt/filter.c
}

@test "fmt-json: at most --max-conns connections followed: 100,000 never closed stay under 96 MiB, a note for each one dropped" {
	python3 "$TESTS_DIR/gen/opens.py" 100000 "$T/opens.tcpmon"
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-fmt-json)" \
	    "$T/opens.tcpmon" > "$T/out" 2> "$T/err"
	echo "fmt-json: $(tail -n 1 "$T/rss") KiB"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 98304)" ]
	python3 "$TESTS_DIR/recparse.py" "$T/out" kinds > "$T/kinds"
	[ "$(grep -c '^note ' "$T/kinds")" = 34464 ]
	[ "$(grep -c '^data ' "$T/kinds")" = 200000 ]
	grep -q '^tcpmon-fmt-json: over 65536 connections at once: ' "$T/err"
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/out" field 1 note level
	assert_output "warning"
}
