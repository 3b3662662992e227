#!/bin/sh
# client.sh PORT: the client under test, as a regression suite runs it: a
# few SOAP calls to the demo service at 127.0.0.1:PORT, each checked with
# tcpmon-send's assertions.  Exits non-zero when a call or a check fails.
set -e
BIN=${BIN:-../../bin}
url=http://127.0.0.1:$1/
call() {
	# call OPERATION BODY-OF-THE-OPERATION ASSERTION...
	op=$1 body=$2
	shift 2
	printf '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>' "$body" |
	    "$BIN/tcpmon-send" --soap-action "urn:tcpmon:demo#$op" --no-check "$@" "$url" - > /dev/null
}
call Add '<d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3</b></d:Add>' \
    --assert-status 200 --assert-xpath '//d:result = 5'
call Echo '<d:Echo xmlns:d="urn:tcpmon:demo"><text>hello</text></d:Echo>' \
    --assert-xpath "//d:text = 'hello'"
# The answer of Stamp carries a new message ID and the time each call:
# tcpmon-diff leaves them out.
call Stamp '<d:Stamp xmlns:d="urn:tcpmon:demo"><text>build 7</text></d:Stamp>' \
    --assert-xpath "//d:text = 'build 7'" --assert-xpath '//wsa:MessageID'
