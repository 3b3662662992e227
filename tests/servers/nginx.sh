#!/bin/sh
# nginx.sh DIR PORT - runs Debian's nginx in the foreground, as one process,
# with a private configuration and logs under DIR, serving DIR/www on
# 127.0.0.1:PORT.  Shared by the tests and bench/send.sh.  nginx cannot bind
# port 0 and say which port it got: the caller probes for a free port and
# starts again if another process took it first.
set -eu
dir=$1 port=$2
mkdir -p "$dir/www" "$dir/tmp"
cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	types { text/plain txt; text/xml xml; text/html html; application/json json; }
	default_type application/octet-stream;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$port;
		root $dir/www;
		location = /post { default_type text/plain; return 200 "posted\n"; }
		location = /old { return 301 /hello.txt; }
		location = /loop { return 302 /loop; }
		location = /close { default_type text/plain; keepalive_timeout 0; return 200 "bye\n"; }
		# SSI takes the length away: the answer comes chunked.
		location /ssi/ { ssi on; }
	}
}
CONF
exec nginx -e stderr -p "$dir" -c "$dir/nginx.conf"
