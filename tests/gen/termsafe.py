#!/usr/bin/env python3
"""termsafe.py FILE [--sgr] - exits 1 (and says where) if FILE holds a byte
a terminal would obey: a C0 control other than tab and LF, DEL, a C1
control in UTF-8 or raw form, or anything that is not UTF-8.  --sgr first
takes out the tools' own colour sequences (ESC [ digits m); --pty takes
the CR out of each CR LF, as a terminal's line discipline adds it."""
import re
import sys

data = open(sys.argv[1], 'rb').read()
if '--sgr' in sys.argv[2:]:
    data = re.sub(rb'\x1b\[[0-9;]*m', b'', data)
if '--pty' in sys.argv[2:]:
    data = data.replace(b'\r\n', b'\n')
try:
    text = data.decode('utf-8')
except UnicodeDecodeError as e:
    sys.exit('%s: not UTF-8 at byte %d: %r' % (sys.argv[1], e.start,
             data[max(0, e.start - 20):e.start + 20]))
for i, ch in enumerate(text):
    c = ord(ch)
    if (c < 0x20 and ch not in '\t\n') or 0x7f <= c <= 0x9f:
        sys.exit('%s: control U+%04X at character %d: %r' % (
            sys.argv[1], c, i, text[max(0, i - 20):i + 20]))
