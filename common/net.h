/* net.h - addresses (PORT, :PORT, HOST:PORT, [V6]:PORT, unix:PATH) and the
 * socket helpers the tools share. */
#ifndef TCPMON_NET_H
#define TCPMON_NET_H

#include <sys/socket.h>
#include <sys/un.h>

#define ADDR_TEXT	(sizeof(((struct sockaddr_un *)0)->sun_path) + 8)

/* What an address is for: a listener may leave the host out (127.0.0.1). */
enum addr_use { ADDR_LISTEN, ADDR_TARGET };

struct addr {
	int	 unix_path;	/* unix:PATH */
	char	 host[256];	/* name or literal, without brackets */
	char	 port[8];
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char	 text[ADDR_TEXT + 256];	/* as it should be shown */
};

/* Resolved: ready for bind(2) or connect(2). */
struct sockaddr_any {
	struct sockaddr_storage ss;
	socklen_t	 len;
};

/* Parses spec; returns 0, or -1 with a short reason in err. */
int	 addr_parse(const char *spec, enum addr_use, struct addr *,
	    char *err, size_t errlen);
/* Resolves with getaddrinfo (the first answer); -1 with a reason in err. */
int	 addr_resolve(const struct addr *, enum addr_use,
	    struct sockaddr_any *, char *err, size_t errlen);
/* "127.0.0.1:80", "[::1]:80" or "unix:/run/x.sock". */
char	*addr_fmt(const struct sockaddr *, socklen_t, char *buf, size_t n);
char	*addr_fmt_local(int fd, char *buf, size_t n);
char	*addr_fmt_peer(int fd, char *buf, size_t n);

/* A non-blocking, close-on-exec listener; Unix sockets get mode 0600. */
int	 sock_listen(const struct sockaddr_any *, int backlog);
/* A non-blocking connect; *pending is set while it is in progress. */
int	 sock_connect(const struct sockaddr_any *, int *pending);
int	 sock_nonblock(int fd);
/* A blocking, close-on-exec connection to the Unix socket at path (a
 * relay's tap socket): the fd, or -1 with errno (ENAMETOOLONG for a path
 * longer than sun_path). */
int	 sock_connect_unix(const char *path);
/* Closes with an RST rather than a FIN (SO_LINGER 0). */
void	 sock_reset(int fd);
/* Makes the close of fd a reset (SO_LINGER 0). */
void	 sock_set_reset(int fd);
/* The pending error of a socket (SO_ERROR), as an errno value. */
int	 sock_error(int fd);
/* The reason a close record gives for a connect that failed with errno e:
 * "refused", "unreachable", "timeout" or "error". */
const char *sock_connect_reason(int e);

#endif
