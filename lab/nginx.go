package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// nginxConf is the lab's nginx configuration: a load balancer in front
// of the API instances, logging each request to standard output.
//
// An instance that refuses connections or times out is skipped for a
// few seconds (max_fails, fail_timeout), and requests that failed on it
// that way go to the next one, but only for idempotent methods: nginx
// never replays a POST. When no instance answers, nginx itself answers
// in eleanor's JSON error shape.
const nginxConf = `# Written by eleanor lab; rewritten at every start.
daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
%[2]s
events {
    worker_connections 1024;
}

http {
    log_format lab '$remote_addr "$request" $status $body_bytes_sent '
                   'upstream=$upstream_addr $request_time';
    access_log /dev/stdout lab;

    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path       %[1]s/tmp/proxy;
    fastcgi_temp_path     %[1]s/tmp/fastcgi;
    uwsgi_temp_path       %[1]s/tmp/uwsgi;
    scgi_temp_path        %[1]s/tmp/scgi;

    upstream eleanor {
%[3]s        keepalive 16;
    }

    server {
        listen 127.0.0.1:%[4]d;
        client_max_body_size 1m;

        location / {
            proxy_pass http://eleanor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # Overwrite, never append: a client could otherwise forge
            # the address the rate limiter sees.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_connect_timeout 1s;
            proxy_read_timeout 20s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            error_page 502 504 = @unavailable;
        }

        location @unavailable {
            default_type application/json;
            add_header Retry-After 1 always;
            return 503 '{"code": 503, "message": "no API instance answers", "errors": []}\n';
        }
    }
}
`

// writeNginxConf writes dir/nginx.conf for the API addresses.
func writeNginxConf(dir string, port int, upstreams []string) error {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return err
	}
	var servers strings.Builder
	for _, addr := range upstreams {
		fmt.Fprintf(&servers,
			"        server %s max_fails=1 fail_timeout=3s;\n", addr)
	}
	// nginx started as root runs its workers as nobody, who could not
	// write to a folder of root's.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(nginxConf, dir, user, servers.String(), port)
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
}
