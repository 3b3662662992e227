/* script.h - each recorded connection of a capture as the steps a server
 * plays back (tcpmon-mock --raw): wait for so many of the client's bytes,
 * send the server's, half-close, wait for the client's end.  For protocols
 * that are not HTTP, where no request can be told from another but by its
 * place in the conversation. */
#ifndef TCPMON_SCRIPT_H
#define TCPMON_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

enum step_kind {
	STEP_CLIENT,	/* wait until the client has sent cend bytes */
	STEP_SERVER,	/* send len bytes of sbytes from off */
	STEP_SHUT,	/* the server half-closed */
	STEP_CEOF	/* wait for the client's end */
};

struct step {
	enum step_kind	 kind;
	size_t		 off, len;	/* STEP_SERVER */
	size_t		 cend;		/* STEP_CLIENT: client bytes by then */
	int64_t		 think_us;	/* STEP_SERVER: since the step before */
};

struct script {
	uint64_t	 conn;
	char		 src[64];
	struct step	*s;
	size_t		 ns, caps;
	unsigned char	*cbytes, *sbytes;	/* each side's, end to end */
	size_t		 clen, ccap, slen, scap;
	int64_t		 last_us;	/* the time of the last record read */
	int		 live;		/* not closed yet (while reading) */
};

struct scripts {
	struct script	**v;
	size_t		 n, cap;
};

/* Adds the connections of the capture at path ("-": stdin), in the order
 * they opened.  0, or -1 with the capture's problem in msg. */
int	 scripts_read(struct scripts *, const char *path, char *msg,
	    size_t msglen);
void	 scripts_free(struct scripts *);

#endif
