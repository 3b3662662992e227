#!/usr/bin/env python3
"""harcheck.py - checks a HAR file against the fields HAR 1.2 requires
(http://www.softwareishard.com/blog/har-12-spec/), with their types, and
that each entry's time is the sum of its timings.  Prints "entries N" and
exits 0, or names the first problem and exits 1.

  harcheck.py FILE
"""
import json
import sys

NUM = (int, float)


def need(obj, where, fields):
    for name, kind in fields:
        if name not in obj:
            sys.exit("%s: no %s" % (where, name))
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool) and kind != bool:
            sys.exit("%s.%s: %r is not %s" % (where, name, obj[name], kind))


def nvlist(lst, where):
    for i, x in enumerate(lst):
        need(x, "%s[%d]" % (where, i), [("name", str), ("value", str)])


def main():
    har = json.load(open(sys.argv[1]))
    need(har, "", [("log", dict)])
    log = har["log"]
    need(log, "log", [("version", str), ("creator", dict), ("entries", list)])
    need(log["creator"], "log.creator", [("name", str), ("version", str)])
    for i, e in enumerate(log["entries"]):
        w = "entries[%d]" % i
        need(e, w, [("startedDateTime", str), ("time", NUM), ("request", dict),
                    ("response", dict), ("cache", dict), ("timings", dict)])
        q, r, t = e["request"], e["response"], e["timings"]
        need(q, w + ".request", [("method", str), ("url", str), ("httpVersion", str),
                                 ("cookies", list), ("headers", list),
                                 ("queryString", list), ("headersSize", int),
                                 ("bodySize", int)])
        nvlist(q["headers"], w + ".request.headers")
        nvlist(q["queryString"], w + ".request.queryString")
        nvlist(q["cookies"], w + ".request.cookies")
        if "postData" in q:
            need(q["postData"], w + ".request.postData", [("mimeType", str), ("text", str)])
        need(r, w + ".response", [("status", int), ("statusText", str),
                                  ("httpVersion", str), ("cookies", list),
                                  ("headers", list), ("content", dict),
                                  ("redirectURL", str), ("headersSize", int),
                                  ("bodySize", int)])
        nvlist(r["headers"], w + ".response.headers")
        nvlist(r["cookies"], w + ".response.cookies")
        need(r["content"], w + ".response.content", [("size", int), ("mimeType", str)])
        need(t, w + ".timings", [("send", NUM), ("wait", NUM), ("receive", NUM)])
        if min(t["send"], t["wait"], t["receive"]) < 0:
            sys.exit("%s.timings: negative" % w)
        if abs(e["time"] - (t["send"] + t["wait"] + t["receive"])) > 0.01:
            sys.exit("%s.time: %r is not the sum of its timings" % (w, e["time"]))
        if not e["startedDateTime"].endswith("Z") or "T" not in e["startedDateTime"]:
            sys.exit("%s.startedDateTime: not ISO 8601: %s" % (w, e["startedDateTime"]))
    print("entries %d" % len(log["entries"]))


main()
