# common/ - libtcpmon.a, linked by every tool.
COMMON_SRCS := common/util.c common/record.c common/net.c common/loop.c \
	common/http.c common/inflate.c common/safe.c
http_test_LIBS := -lz
