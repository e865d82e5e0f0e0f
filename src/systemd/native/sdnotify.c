/*
 * edgesight_sdnotify — the sd_notify(3) datagram, sent from the daemon's own process.
 *
 * Why native: Node has no AF_UNIX SOCK_DGRAM socket, and sending through a child such as
 * systemd-notify(1) makes PID 1 attribute the message by the child's PID, which is racy (the child may
 * be gone before PID 1 looks it up) and needs NotifyAccess=all. Sending from the main PID keeps the
 * default NotifyAccess=main and makes attribution exact. The code mirrors libsystemd's sd_notify: one
 * short-lived socket per message, "@" = abstract namespace, MSG_NOSIGNAL. A send timeout bounds how long
 * the event loop can block if PID 1 stops reading.
 *
 * The receiver functions exist for tests only: they bind a real datagram socket with SO_PASSCRED, so a
 * test sees each datagram exactly as PID 1 would, with the sender's PID from SCM_CREDENTIALS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#define SEND_TIMEOUT_MS 2000
#define MAX_MESSAGE 4096

static void throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = NULL;
  switch (err) {
    case ENOENT: code = "ENOENT"; break;
    case ECONNREFUSED: code = "ECONNREFUSED"; break;
    case EAGAIN: code = "EAGAIN"; break;
    case EACCES: code = "EACCES"; break;
    case EPERM: code = "EPERM"; break;
    case EADDRINUSE: code = "EADDRINUSE"; break;
    case EMSGSIZE: code = "EMSGSIZE"; break;
    default: code = "EIO"; break;
  }
  napi_throw_error(env, code, msg);
}

/* Returns the address length, or -1 (with a JS exception pending) if the path cannot be a unix address. */
static socklen_t make_address(napi_env env, const char *path, size_t len, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (len < 2 || (path[0] != '/' && path[0] != '@')) {
    napi_throw_error(env, "EINVAL", "socket address must be an absolute path or start with '@' (abstract namespace)");
    return (socklen_t)-1;
  }
  if (memchr(path, 0, len) != NULL) {
    napi_throw_error(env, "EINVAL", "socket address contains a NUL byte");
    return (socklen_t)-1;
  }
  /* A filesystem path needs room for its terminating NUL; an abstract name does not have one. */
  if (len > sizeof sa->sun_path - (path[0] == '/' ? 1 : 0)) {
    napi_throw_error(env, "ENAMETOOLONG", "socket address is longer than sun_path (108 bytes)");
    return (socklen_t)-1;
  }
  memcpy(sa->sun_path, path, len);
  if (path[0] == '@') {
    sa->sun_path[0] = 0;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  }
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Copies a JS string argument into buf; returns its length or -1 with an exception pending. */
static ptrdiff_t string_arg(napi_env env, napi_value v, char *buf, size_t cap, const char *name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", name);
    napi_throw_type_error(env, "EINVAL", msg);
    return -1;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len >= cap) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s is too long (%zu bytes, limit %zu)", name, len, cap - 1);
    napi_throw_range_error(env, "E2BIG", msg);
    return -1;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return (ptrdiff_t)len;
}

/* send(socketAddress, message): one datagram, from this process. Throws on any failure. */
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "send(socketAddress, message) needs two arguments");
    return NULL;
  }
  char path[256], msg[MAX_MESSAGE];
  ptrdiff_t plen = string_arg(env, argv[0], path, sizeof path, "socket address");
  if (plen < 0) return NULL;
  ptrdiff_t mlen = string_arg(env, argv[1], msg, sizeof msg, "message");
  if (mlen < 0) return NULL;
  struct sockaddr_un sa;
  socklen_t salen = make_address(env, path, (size_t)plen, &sa);
  if (salen == (socklen_t)-1) return NULL;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
    return NULL;
  }
  struct timeval tv = { .tv_sec = SEND_TIMEOUT_MS / 1000, .tv_usec = (SEND_TIMEOUT_MS % 1000) * 1000 };
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ssize_t n;
  do {
    n = sendto(fd, msg, (size_t)mlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) {
    char what[320];
    snprintf(what, sizeof what, "sendto(%s)", path);
    throw_errno(env, what, err);
    return NULL;
  }
  if (n != mlen) {
    napi_throw_error(env, "EIO", "short datagram write");
    return NULL;
  }
  return NULL;
}

/* monotonicUsec(): CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC with. */
static napi_value MonotonicUsec(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
    throw_errno(env, "clock_gettime(CLOCK_MONOTONIC)", errno);
    return NULL;
  }
  napi_value out;
  napi_create_bigint_uint64(env, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u, &out);
  return out;
}

/* bindReceiver(socketAddress): test helper; a non-blocking datagram socket with SO_PASSCRED. Returns fd. */
static napi_value BindReceiver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, "EINVAL", "bindReceiver(socketAddress) needs an address");
    return NULL;
  }
  char path[256];
  ptrdiff_t plen = string_arg(env, argv[0], path, sizeof path, "socket address");
  if (plen < 0) return NULL;
  struct sockaddr_un sa;
  socklen_t salen = make_address(env, path, (size_t)plen, &sa);
  if (salen == (socklen_t)-1) return NULL;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    throw_errno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
    return NULL;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 || bind(fd, (struct sockaddr *)&sa, salen) != 0) {
    int err = errno;
    close(fd);
    throw_errno(env, "bind receiver", err);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static int fd_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "expected a receiver file descriptor");
    return -1;
  }
  return fd;
}

/* receive(fd): the next datagram as { message, pid }, or null when none is queued. */
static napi_value Receive(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info);
  if (fd < 0) return NULL;
  char buf[MAX_MESSAGE + 1];
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(struct ucred))];
  } control;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  napi_value out;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &out);
      return out;
    }
    throw_errno(env, "recvmsg", errno);
    return NULL;
  }
  int32_t pid = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      pid = cred.pid;
    }
  }
  napi_value message, pidv;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, buf, (size_t)n, &message);
  napi_create_int32(env, pid, &pidv);
  napi_set_named_property(env, out, "message", message);
  napi_set_named_property(env, out, "pid", pidv);
  return out;
}

static napi_value CloseReceiver(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info);
  if (fd < 0) return NULL;
  if (close(fd) != 0) throw_errno(env, "close receiver", errno);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL },
    { "monotonicUsec", NULL, MonotonicUsec, NULL, NULL, NULL, napi_enumerable, NULL },
    { "bindReceiver", NULL, BindReceiver, NULL, NULL, NULL, napi_enumerable, NULL },
    { "receive", NULL, Receive, NULL, NULL, NULL, napi_enumerable, NULL },
    { "closeReceiver", NULL, CloseReceiver, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
