# common/ - libtcpmon.a, linked by every tool.
COMMON_SRCS := common/util.c common/record.c common/net.c common/loop.c \
	common/grow.c common/ctab.c \
	common/http.c common/inflate.c common/safe.c
# What the library needs at link time, after it (zlib: inflate.c, and gzip'd
# captures in record.c).
COMMON_LIBS := -lz
