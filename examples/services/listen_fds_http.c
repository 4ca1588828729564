/* A small HTTP/1.0 server that takes its listening sockets from its supervisor, as services
 * written for systemd's socket units do: libsystemd's sd_listen_fds() finds them in LISTEN_FDS
 * and LISTEN_PID (fds 3, 4, ...). Under armd: the service's `listen = [...]` (issue 14).
 *
 *   listen_fds_http [--startup-delay-ms N] [--report FILE] [--stamp FILE] [--bind ADDRESS]
 *                   [--config FILE [--check]]
 *
 * GET / is answered "hello from pid P" (or the configured greeting); anything else 404. A datagram socket (udp:) is answered
 * "pid P" per datagram. SIGTERM ends it (exit 0).
 * --startup-delay-ms N: sleep N ms before serving (a service slow to start; clients wait in the
 *   backlog of the socket its supervisor holds).
 * --report FILE: what it was given, written once (by rename, so it appears whole) before it serves:
 *     pid P
 *     env LISTEN_FDS|LISTEN_PID|LISTEN_FDNAMES VALUE      ("-" when unset)
 *     listen_pid_is_mine 0|1
 *     sd_listen_fds N
 *     fd FD inet4 R inet6 R unix R stream R dgram R listening R address A
 *   (R: the result of sd_is_socket_inet / sd_is_socket_unix / sd_is_socket for that question, 1
 *   when it is; A: the bound address, 127.0.0.1:8080, [::1]:8080 or the unix path.)
 * --stamp FILE: appends "ready P NS" (its pid, CLOCK_MONOTONIC in ns) with one write when it starts
 *   serving, for measuring its start-up time (bench/socket_activation.py).
 * --bind ADDRESS: not socket-activated: binds ADDRESS (IP:PORT or [IPv6]:PORT) itself, with
 *   SO_REUSEADDR, as a service does without a supervisor's sockets (the benchmark's contrast).
 * --config FILE: a configuration file, so that edits of it can be tried (config_check, issue 14):
 *   blank lines, `#` comments and at most one `greeting WORDS` line (said instead of "hello");
 *   anything else is an error that names the file and line, and the server does not start.
 *   With --check it only checks the file (exit 0 or 1), as `nginx -t` does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SOCKETS = 64, REQUEST_LIMIT = 4096 };

static volatile sig_atomic_t terminated = 0;

static void on_sigterm(int signo) {
  (void)signo;
  terminated = 1;
}

static long long monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

static int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    size -= (size_t)n;
  }
  return 0;
}

/* The socket's own address as a configuration writes it, into text[size]. */
static void describe_address(int fd, char* text, size_t size) {
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  char ip[INET6_ADDRSTRLEN] = "?";
  snprintf(text, size, "?");
  if (getsockname(fd, (struct sockaddr*)&address, &length) != 0) return;
  if (address.ss_family == AF_INET) {
    struct sockaddr_in* in = (struct sockaddr_in*)&address;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(text, size, "%s:%u", ip, ntohs(in->sin_port));
  } else if (address.ss_family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&address;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(text, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
  } else if (address.ss_family == AF_UNIX) {
    struct sockaddr_un* un = (struct sockaddr_un*)&address;
    snprintf(text, size, "%s",
             length > sizeof(sa_family_t) && un->sun_path[0] ? un->sun_path : "-");
  }
}

/* The environment as it was before sd_listen_fds(1) unset it. */
struct Given {
  char fds[64], pid[64], names[4096];
};

static void copy_env(const char* name, char* into, size_t size) {
  const char* value = getenv(name);
  snprintf(into, size, "%s", value ? value : "-");
}

static int write_report(const char* path, const struct Given* given, int count) {
  char temporary[4096];
  snprintf(temporary, sizeof temporary, "%s.tmp", path);
  FILE* file = fopen(temporary, "w");
  if (!file) return -1;
  fprintf(file, "pid %ld\n", (long)getpid());
  fprintf(file, "env LISTEN_FDS %s\nenv LISTEN_PID %s\nenv LISTEN_FDNAMES %s\n", given->fds,
          given->pid, given->names);
  fprintf(file, "listen_pid_is_mine %d\n", atol(given->pid) == (long)getpid());
  fprintf(file, "sd_listen_fds %d\n", count);
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count; ++fd) {
    char address[256];
    describe_address(fd, address, sizeof address);
    fprintf(file, "fd %d inet4 %d inet6 %d unix %d stream %d dgram %d listening %d address %s\n",
            fd, sd_is_socket_inet(fd, AF_INET, 0, -1, 0), sd_is_socket_inet(fd, AF_INET6, 0, -1, 0),
            sd_is_socket_unix(fd, 0, -1, NULL, 0), sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, -1),
            sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1), sd_is_socket(fd, AF_UNSPEC, 0, 1),
            address);
  }
  if (fclose(file) != 0) return -1;
  return rename(temporary, path);
}

static int append_stamp(const char* path) {
  char line[128];
  int length = snprintf(line, sizeof line, "ready %ld %lld\n", (long)getpid(), monotonic_ns());
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int written = write_all(fd, line, (size_t)length);
  close(fd);
  return written;
}

/* "127.0.0.1:8080" or "[::1]:8080", bound and listening with SO_REUSEADDR; -1 on failure. */
static int bind_itself(const char* text) {
  char host[INET6_ADDRSTRLEN + 2];
  const char* colon = strrchr(text, ':');
  if (!colon || (size_t)(colon - text) >= sizeof host) return -1;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  unsigned short port = (unsigned short)atoi(colon + 1);
  struct sockaddr_storage address;
  memset(&address, 0, sizeof address);
  socklen_t length;
  if (host[0] == '[') {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&address;
    host[strlen(host) - 1] = '\0';
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1) return -1;
    length = sizeof *in6;
  } else {
    struct sockaddr_in* in = (struct sockaddr_in*)&address;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return -1;
    length = sizeof *in;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
      bind(fd, (struct sockaddr*)&address, length) != 0 || listen(fd, 128) != 0)
    return -1;
  return fd;
}

/* One HTTP/1.0 exchange on an accepted connection: read the request head, answer, close. */
static char greeting[128] = "hello";

/* Reads --config FILE into `greeting`; 0, or -1 after saying on stderr what is wrong where. */
static int read_config(const char* path) {
  FILE* file = fopen(path, "r");
  if (!file) {
    fprintf(stderr, "listen_fds_http: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[512];
  int number = 0, result = 0;
  while (result == 0 && fgets(line, sizeof line, file)) {
    ++number;
    line[strcspn(line, "\n")] = '\0';
    const char* text = line + strspn(line, " \t");
    if (*text == '\0' || *text == '#') continue;
    if (strncmp(text, "greeting ", 9) == 0) {
      snprintf(greeting, sizeof greeting, "%s", text + 9);
    } else {
      fprintf(stderr, "listen_fds_http: %s:%d: unknown directive: %s\n", path, number, text);
      result = -1;
    }
  }
  fclose(file);
  return result;
}

static void serve_connection(int connection) {
  struct timeval patience = {5, 0}; /* a client that never sends does not hold the server */
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  char request[REQUEST_LIMIT + 1];
  size_t used = 0;
  while (used < REQUEST_LIMIT) {
    ssize_t n = read(connection, request + used, REQUEST_LIMIT - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    request[used] = '\0';
    if (strstr(request, "\r\n\r\n") || strstr(request, "\n\n")) break;
  }
  request[used] = '\0';
  char body[160], reply[512];
  const char* status = "404 Not Found";
  if (strncmp(request, "GET / ", 6) == 0) {
    status = "200 OK";
    snprintf(body, sizeof body, "%s from pid %ld\n", greeting, (long)getpid());
  } else {
    snprintf(body, sizeof body, "not found\n");
  }
  int length = snprintf(reply, sizeof reply,
                        "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s",
                        status, strlen(body), body);
  write_all(connection, reply, (size_t)length);
  close(connection);
}

static void serve_datagram(int fd) {
  char buffer[2048];
  struct sockaddr_storage sender;
  socklen_t length = sizeof sender;
  if (recvfrom(fd, buffer, sizeof buffer, MSG_DONTWAIT, (struct sockaddr*)&sender, &length) < 0)
    return;
  int size = snprintf(buffer, sizeof buffer, "pid %ld\n", (long)getpid());
  sendto(fd, buffer, (size_t)size, MSG_DONTWAIT, (struct sockaddr*)&sender, length);
}

int main(int argc, char** argv) {
  long startup_delay_ms = 0;
  const char *report = NULL, *stamp = NULL, *bind_address = NULL, *config = NULL;
  int check_only = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--startup-delay-ms") == 0 && i + 1 < argc) {
      startup_delay_ms = atol(argv[++i]);
    } else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc) {
      report = argv[++i];
    } else if (strcmp(argv[i], "--stamp") == 0 && i + 1 < argc) {
      stamp = argv[++i];
    } else if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc) {
      bind_address = argv[++i];
    } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config = argv[++i];
    } else if (strcmp(argv[i], "--check") == 0) {
      check_only = 1;
    } else {
      fprintf(stderr, "listen_fds_http: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (config && read_config(config) != 0) return 1;
  if (check_only) {
    if (!config) fprintf(stderr, "listen_fds_http: --check needs --config FILE\n");
    return config ? 0 : 2;
  }

  /* SIGTERM is blocked except while waiting in ppoll: it cannot slip in between a check of
   * `terminated` and the wait. */
  sigset_t terminate, while_waiting;
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  sigprocmask(SIG_BLOCK, &terminate, &while_waiting);
  sigdelset(&while_waiting, SIGTERM);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_sigterm;
  sigaction(SIGTERM, &action, NULL);
  signal(SIGPIPE, SIG_IGN); /* a client that hung up is its own problem */

  struct Given given;
  copy_env("LISTEN_FDS", given.fds, sizeof given.fds);
  copy_env("LISTEN_PID", given.pid, sizeof given.pid);
  copy_env("LISTEN_FDNAMES", given.names, sizeof given.names);
  int count = sd_listen_fds(1); /* 1: unset them, so our own children do not take them */
  if (report && write_report(report, &given, count) != 0) {
    perror("listen_fds_http: writing the report");
    return 1;
  }

  struct pollfd sockets[MAX_SOCKETS];
  int datagram[MAX_SOCKETS];
  int n = 0;
  if (bind_address) {
    sockets[0].fd = bind_itself(bind_address);
    if (sockets[0].fd < 0) {
      fprintf(stderr, "listen_fds_http: cannot listen on %s: %s\n", bind_address, strerror(errno));
      return 1;
    }
    datagram[n++] = 0;
  } else {
    if (count <= 0) {
      fprintf(stderr, "listen_fds_http: no sockets passed (LISTEN_FDS: %s) and no --bind\n",
              given.fds);
      return 2;
    }
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count && n < MAX_SOCKETS; ++fd) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      sockets[n].fd = fd;
      datagram[n++] = sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0;
    }
  }
  for (int i = 0; i < n; ++i) sockets[i].events = POLLIN;

  if (startup_delay_ms > 0) sleep_ms(startup_delay_ms);
  if (stamp) append_stamp(stamp);

  while (!terminated) {
    int ready = ppoll(sockets, (nfds_t)n, NULL, &while_waiting);
    if (ready < 0) {
      if (errno == EINTR) continue;
      perror("listen_fds_http: ppoll");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      if (!(sockets[i].revents & POLLIN)) continue;
      if (datagram[i]) {
        serve_datagram(sockets[i].fd);
        continue;
      }
      int connection = accept4(sockets[i].fd, NULL, NULL, SOCK_CLOEXEC);
      if (connection >= 0) serve_connection(connection);
      /* EINTR, ECONNABORTED (the client gave up first), EAGAIN: nothing to serve this time. */
    }
  }
  return 0;
}
