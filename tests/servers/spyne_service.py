#!/usr/bin/python3
"""spyne_service.py - a real SOAP service for the tcpmon-send tests, built on
Debian's python3-spyne.  It binds 127.0.0.1 on a free port and prints
"listening on 127.0.0.1:PORT" on stderr once it accepts connections.

  /soap11  SOAP 1.1 (text/xml, SOAPAction)
  /soap12  SOAP 1.2 (application/soap+xml)

Operations, in namespace urn:tcpmon:test: Add(a, b) -> a + b,
Echo(s) -> s, Fail(s) -> a Client fault whose message is s.
"""
import logging
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from spyne import Application, Fault, Integer, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

NS = 'urn:tcpmon:test'


class Calc(ServiceBase):
    @rpc(Integer, Integer, _returns=Integer)
    def Add(ctx, a, b):
        return a + b

    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, s):
        return s

    @rpc(Unicode, _returns=Unicode)
    def Fail(ctx, s):
        raise Fault(faultcode='Client', faultstring=s)


def app(proto):
    return WsgiApplication(Application([Calc], tns=NS, in_protocol=proto(),
                                       out_protocol=proto()))


APPS = {'/soap11': app(Soap11), '/soap12': app(Soap12)}


def dispatch(environ, start_response):
    a = APPS.get(environ.get('PATH_INFO', ''))
    if a is None:
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'no such service\n']
    return a(environ, start_response)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    logging.basicConfig(level=logging.CRITICAL)
    srv = make_server('127.0.0.1', 0, dispatch, handler_class=Quiet)
    print('listening on 127.0.0.1:%d' % srv.server_port, file=sys.stderr,
          flush=True)
    srv.serve_forever()


main()
