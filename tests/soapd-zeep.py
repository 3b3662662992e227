#!/usr/bin/env python3
"""tests/soapd-zeep.py WSDL-URL [PORT-NAME]: reads the WSDL with zeep (Debian's
python3-zeep) and calls Add(2, 3) and Echo through the port it names (the
default port otherwise); prints the endpoint, the sum and the echo."""
import sys

import zeep

kw = {}
if len(sys.argv) > 2:
    kw = {"service_name": "DemoService", "port_name": sys.argv[2]}
client = zeep.Client(sys.argv[1], **kw)
print(client.service._binding_options["address"])
print(client.service.Add(2, 3))
print(client.service.Echo("a <b> & c"))
