/* UsherSocketService: GLib's GSocketService, re-implemented.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (__USHER_H_INSIDE__) && !defined (USHER_COMPILATION)
#error "Only <usher/usher.h> can be included directly."
#endif

#include <gio/gio.h>

#include <usher/refusal.h>
#include <usher/socket-settings.h>
#include <usher/client-hello.h>

G_BEGIN_DECLS

/**
 * UsherSocketService:
 *
 * A service that accepts connections on the sockets of its #GSocketListener
 * and emits #UsherSocketService::incoming for each, from the main loop.
 *
 * It is a re-implementation of #GSocketService with the same API, names
 * aside: a program written for #GSocketService works on #UsherSocketService
 * after renaming the type and its functions. As with GLib, there are two ways
 * to write a service: connect to #UsherSocketService::incoming, or subclass
 * #UsherSocketService and set `incoming` in the class structure. Either way the
 * handler must not block; see #UsherThreadedSocketService for handlers that do.
 *
 * The service accepts, and emits its signals, on the thread-default
 * #GMainContext of the thread that created it, until a thread that pushed a
 * thread-default context of its own begins its accepting, by adding the first
 * socket to the active service or by starting it: from then on it accepts on
 * that thread's context, as #GSocketService does. A thread with no context of
 * its own (a worker) moves nothing, where #GSocketService would move accepting
 * to the global default context. usher_socket_service_start() and
 * usher_socket_service_stop() may be called from any thread; the rest of the
 * API, as with #GSocketListener, from the service's thread.
 *
 * Where GLib's service is weak, Usher does more: it takes every waiting
 * client off the backlog when a socket is readable (up to the socket's listen
 * backlog per main-loop turn), never loses a client queued when
 * usher_socket_service_stop() is called, starts accepting when a socket is
 * added after an early usher_socket_service_start(), stops cleanly when
 * g_socket_listener_close() is called, and reports failed accepts with
 * #UsherSocketService::accept-error, pausing with a growing backoff instead of
 * spinning when the process runs out of file descriptors. It can cap its live
 * connections, overall and per peer, time out idle I/O, shut down gracefully,
 * serve TLS (#UsherSocketService:tls-certificate), and read the PROXY protocol
 * header of the load balancers it trusts
 * (#UsherSocketService:proxy-protocol-peers).
 *
 * A new service is active. Like GLib's, an active service with sockets keeps a
 * reference to itself; a stopped one does not, so dropping the last reference
 * to a stopped service frees it and closes its listening sockets. As with
 * GLib's pending accept, that reference is let go of in a later iteration of
 * the service's context, never inside usher_socket_service_stop().
 *
 * Unless the application sets #GSocketListener:listen-backlog itself, the
 * sockets the listener creates listen with the system's maximum backlog
 * (`net.core.somaxconn`), beyond GLib's default of 10, which a burst of
 * clients overflows at once; a value the application sets is honoured. (To keep
 * GLib's 10, set it through the property once the service exists: given to
 * g_object_new(), it cannot be told from GObject setting the default.)
 *
 * Whatever the close or finalization of a connection the service handed out
 * causes (counting it, #GObject::notify, completing a shutdown, accepting
 * again) happens on the service's context in a later iteration, never inside
 * another object's dispose or finalize, and never on the thread that dropped
 * the last reference to the connection.
 *
 * Since: 0.1
 */

/**
 * USHER_TYPE_SOCKET_SERVICE:
 *
 * The #GType of #UsherSocketService.
 *
 * Since: 0.1
 */
#define USHER_TYPE_SOCKET_SERVICE (usher_socket_service_get_type ())
G_DECLARE_DERIVABLE_TYPE (UsherSocketService, usher_socket_service, USHER, SOCKET_SERVICE, GSocketListener)

/**
 * UsherSocketServiceClass:
 * @parent_class: the parent class
 * @incoming: class handler of #UsherSocketService::incoming; the default
 *   returns %FALSE
 * @accept_error: class handler of #UsherSocketService::accept-error; the
 *   default logs a warning, at most once a second, while no handler is
 *   connected to the signal
 * @accept_certificate: class handler of
 *   #UsherSocketService::accept-certificate; the default refuses the
 *   certificate. Since: 0.2
 * @accept_credentials: class handler of
 *   #UsherSocketService::accept-credentials; the default accepts the peer.
 *   Since: 0.2
 * @select_certificate: class handler of
 *   #UsherSocketService::select-certificate; the default returns %NULL, for
 *   the socket's settings to choose. Overriding it has the service read every
 *   TLS client's ClientHello. Since: 0.2
 *
 * The class structure. It has the size of #GSocketServiceClass, with @incoming
 * at the same offset, so a subclass written for #GSocketService keeps its
 * layout; the reserved space after it lets the class grow.
 *
 * Since: 0.1
 */
struct _UsherSocketServiceClass
{
  GSocketListenerClass parent_class;

  gboolean (* incoming)     (UsherSocketService *service,
                             GSocketConnection  *connection,
                             GObject            *source_object);
  void     (* accept_error) (UsherSocketService *service,
                             const GError       *error);
  gboolean (* accept_certificate) (UsherSocketService   *service,
                                   GTlsConnection       *connection,
                                   GTlsCertificate      *peer_certificate,
                                   GTlsCertificateFlags  errors);
  gboolean (* accept_credentials) (UsherSocketService *service,
                                   GSocketConnection  *connection,
                                   GCredentials       *credentials);
  GTlsCertificate * (* select_certificate) (UsherSocketService *service,
                                            GSocketConnection  *connection,
                                            UsherClientHello   *client_hello);

  /*< private >*/
  gpointer padding[2];
};

/**
 * UsherSocketServiceClass::select_certificate:
 * @service: the #UsherSocketService
 * @connection: the connection, accepted, before its TLS handshake
 * @client_hello: what the client's ClientHello asked for
 *
 * Class handler of #UsherSocketService::select-certificate.
 *
 * Returns: (transfer full) (nullable): the certificate to serve, or %NULL for
 *   the socket's settings to choose
 *
 * Since: 0.2
 */

/**
 * UsherSocketService::incoming:
 * @service: the #UsherSocketService
 * @connection: a new #GSocketConnection object
 * @source_object: (nullable): the source_object passed to
 *   g_socket_listener_add_address() for the socket @connection came in on
 *
 * Emitted, on the service's context, when a new incoming connection to
 * @service needs to be handled. The handler must initiate the handling of
 * @connection, but may not block; in essence, asynchronous operations must be
 * used.
 *
 * @connection will be unreffed once the signal handler returns, so you need to
 * ref it yourself if you are planning to use it.
 *
 * With #UsherSocketService:tls-certificate set, @connection has completed
 * its TLS handshake: it is a #GTcpWrapperConnection whose base stream
 * (g_tcp_wrapper_connection_get_base_io_stream()) is the
 * #GTlsServerConnection, the shape #GSocketClient returns with its `tls`
 * property set.
 *
 * Returns: %TRUE to stop other handlers from being called
 *
 * Since: 0.1
 */

/**
 * UsherSocketService::accept-error:
 * @service: the #UsherSocketService
 * @error: what went wrong
 *
 * Emitted, on the service's context, for every accept that failed for another
 * reason than a cancellation, every TLS handshake that failed (a
 * %G_TLS_ERROR, or %G_IO_ERROR_TIMED_OUT), and every client refused (at
 * #UsherSocketService:max-connections-per-peer, by an admission check, for
 * its credentials, its PROXY protocol header or its ClientHello; a %G_IO_ERROR
 * naming the peer), after #UsherSocketService::refused, which says why. The
 * service keeps serving: it retries at once after a transient
 * error (the client gave up, for instance), and after a short pause, growing
 * to well under a second, when out of resources (file descriptors, memory).
 *
 * While no handler is connected, the service logs a warning at most once a
 * second, with the number of failures folded into it.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService::select-certificate:
 * @service: the #UsherSocketService
 * @connection: the connection, accepted, before its TLS handshake
 * @client_hello: what the client's ClientHello asked for: its server name,
 *   the ALPN protocols it offers
 *
 * Emitted, on the service's context, for each connection on a socket that
 * serves TLS, before its handshake: return the certificate to serve it with,
 * or %NULL for the socket's settings to choose (the certificate of
 * #UsherSocketSettings:tls-certificate-names for the name asked for, else
 * #UsherSocketSettings:tls-certificate). The first handler that returns a
 * certificate ends the emission. For names learned at run time: a
 * certificate made or fetched for a name, a cache of them.
 *
 * Once a handler is connected, the service reads the ClientHello of every TLS
 * connection before its handshake (a peek at the bytes, which stay for the TLS
 * library). The handler must not block. @connection is the accepted one,
 * before TLS: its #UsherProxyInfo is there if a balancer sent a header.
 *
 * Returns: (transfer full) (nullable): the certificate, with its private key,
 *   or %NULL to let the settings choose
 *
 * Since: 0.2
 */

/**
 * UsherSocketService::accept-credentials:
 * @service: the #UsherSocketService
 * @connection: the connection, just accepted
 * @credentials: the credentials of the peer's process (`SO_PEERCRED`)
 *
 * Emitted, on the service's context, for each connection on a Unix-domain
 * socket, after its accept and before anything else (its PROXY protocol
 * header, its TLS handshake, #UsherSocketService::incoming), for the peers
 * the socket's #UsherSocketSettings:allowed-users and
 * #UsherSocketSettings:allowed-groups let in. Return %FALSE to refuse the
 * connection, which is closed and reported with
 * #UsherSocketService::accept-error (%G_IO_ERROR_PERMISSION_DENIED, naming
 * the peer's uid and pid); every handler, and the class handler, must return
 * %TRUE for it to be served: the emission stops at the first %FALSE. Once a
 * handler is connected, it costs one system call per connection.
 *
 * Returns: %TRUE to accept the peer
 *
 * Since: 0.2
 */

/**
 * UsherSocketService::refused:
 * @service: the #UsherSocketService
 * @peer: (nullable): the peer's address, the client's behind a trusted
 *   balancer, or %NULL for a peer without one (Unix-domain)
 * @reason: why the connection was refused
 * @error: the error #UsherSocketService::accept-error reports it with too
 *
 * Emitted, on the service's context, for every connection refused after its
 * accept. The refusals are counted per reason
 * (usher_socket_service_get_n_refused()); nothing is made for the signal
 * while no handler is connected, and no line is logged per refusal.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:memory-monitor:
 *
 * The memory monitor whose warnings pause accepting: from
 * %G_MEMORY_MONITOR_WARNING_LEVEL_MEDIUM on
 * (#GMemoryMonitor::low-memory-warning), the service accepts no new
 * connection, and the kernel's backlog holds the clients, until a warning
 * below %G_MEMORY_MONITOR_WARNING_LEVEL_MEDIUM comes, or none for 10 seconds.
 * %NULL (the default) for none: set g_memory_monitor_dup_default() to follow
 * the desktop's.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:descriptor-margin:
 *
 * How close to its descriptor limit (`RLIMIT_NOFILE`) the process may come
 * before the service pauses accepting: a client accepted with a descriptor
 * within this many of the limit (at most a quarter of it) is the last until
 * the lowest free descriptor is twice as far from it again, as connections
 * close. The kernel's backlog holds the clients meanwhile; the process keeps
 * descriptors for the rest of its work, and never spins on `EMFILE`. 0 for no
 * pause before the limit. The default is 32.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:overloaded:
 *
 * Whether accepting is paused for the process's sake: the memory monitor
 * warned of pressure, or descriptors are short
 * (#UsherSocketService:descriptor-margin). Notified on the service's context.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:active:
 *
 * Whether the service is accepting connections: what the application asked
 * for with usher_socket_service_start() and usher_socket_service_stop(). A
 * service waiting for a free thread, a free connection slot or free file
 * descriptors stays active meanwhile. A service whose listener is closed
 * (g_socket_listener_close(), usher_socket_service_shutdown_async()) is
 * inactive for good: usher_socket_service_start() leaves it inactive.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:max-connections:
 *
 * The most live connections before the service stops accepting; 0 (the
 * default) for no limit. At the limit, new clients wait in the kernel's backlog,
 * neither accepted nor refused, until a connection closes. A connection counts
 * from its accept, its TLS handshake included, until it is closed or
 * finalized.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:n-connections:
 *
 * The connections the service accepted, those in their TLS handshake
 * included, and that are not yet closed or finalized. Notified on the
 * service's context, at most once per main-loop iteration.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:max-connections-per-peer:
 *
 * The most live connections from one IP address; 0 (the default) for no
 * limit. IPv4 and IPv6 addresses count apart, except that a v4-mapped IPv6
 * address counts as its IPv4 address, and each IPv6 address counts on its own
 * (not with its /64 prefix, as the rates and handshake budget of
 * #UsherSocketSettings do); Unix-domain sockets are not limited. A
 * client beyond its peer's limit is accepted and closed at once, so that it
 * holds up nobody queued behind it, and reported with
 * #UsherSocketService::accept-error. Behind a balancer trusted with
 * #UsherSocketService:proxy-protocol-peers, a connection counts as the
 * client's its PROXY protocol header names, once read; as the balancer's only
 * while it has to wait for its header, or if the header names no client.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:timeout:
 *
 * The I/O timeout, in seconds, of every accepted socket
 * (g_socket_set_timeout()), as #GSocketClient:timeout is for clients; 0 (the
 * default) for none. A blocking or asynchronous read or write that waits
 * longer fails with %G_IO_ERROR_TIMED_OUT, so that an ordinary handler closes
 * the connection and frees its slot. With TLS it applies after the handshake,
 * which has #UsherSocketService:tls-handshake-timeout.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:socket-settings:
 *
 * The settings of every listening socket of the service that was given none
 * of its own, and of every setting a socket's own settings leave unset: see
 * #UsherSocketSettings. The `tls-*`, `proxy-protocol-*` and `timeout`
 * properties of the service are views of these. Read-only: the object is the
 * service's for its whole life; change its properties.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:tls-certificate:
 *
 * The certificate, with its private key, that the service serves TLS with;
 * %NULL (the default) for plain TCP. With one, each accepted connection is
 * wrapped in a #GTlsServerConnection from the default #GTlsBackend, its
 * handshake runs on the service's context, and only a completed handshake
 * emits #UsherSocketService::incoming. A failed one closes the connection and
 * is reported with #UsherSocketService::accept-error. Without a TLS backend
 * (glib-networking), every connection fails with %G_TLS_ERROR_UNAVAILABLE,
 * and one warning says why.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:tls-database:
 *
 * The database client certificates are verified with; %NULL (the default)
 * for the TLS backend's default database.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:tls-authentication-mode:
 *
 * Whether the service asks clients for a certificate:
 * %G_TLS_AUTHENTICATION_NONE (the default), %G_TLS_AUTHENTICATION_REQUESTED
 * or %G_TLS_AUTHENTICATION_REQUIRED.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:tls-advertised-protocols:
 *
 * The application protocols the service offers with ALPN (`"http/1.1"`, …),
 * in order of preference; %NULL (the default) for no ALPN. The protocol
 * negotiated with a client is g_tls_connection_get_negotiated_protocol() of
 * the connection's base stream.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:tls-handshake-timeout:
 *
 * The most seconds a client may take to complete its TLS handshake before
 * the service closes the connection and reports %G_IO_ERROR_TIMED_OUT; 0 for
 * no limit. The default is 10.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:proxy-protocol-peers:
 *
 * The load balancers trusted to send a PROXY protocol header (HAProxy's
 * `send-proxy`, nginx's `proxy_protocol on`): IPv4 and IPv6 addresses and
 * CIDR ranges (`"127.0.0.1"`, `"10.0.0.0/8"`, `"fd00::/8"`). %NULL or empty
 * (the default): the service speaks no PROXY protocol.
 *
 * With peers set, a connection from one of them is taken through its header,
 * version 1 or 2, before its TLS handshake and #UsherSocketService::incoming;
 * from then on its client's address is the one
 * #UsherSocketService:max-connections-per-peer counts and messages name, and
 * usher_proxy_info_get_for_connection() gives what the header said. A
 * connection from anyone else is served as it is, and refused if it starts
 * with a header: a header from a peer not in the list is never believed. A
 * refused header closes the connection and is reported with
 * #UsherSocketService::accept-error: %G_IO_ERROR_INVALID_DATA for a malformed
 * one, %G_IO_ERROR_PERMISSION_DENIED for one from an untrusted peer,
 * %G_IO_ERROR_TIMED_OUT past #UsherSocketService:proxy-protocol-timeout.
 *
 * Set through the property, an entry that is neither an address nor a range
 * logs a critical and leaves the list as it was;
 * usher_socket_service_try_set_proxy_protocol_peers() returns the error
 * instead.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:proxy-protocol-required:
 *
 * Whether a trusted peer (#UsherSocketService:proxy-protocol-peers) must
 * send a PROXY protocol header: with this on (the default), as the
 * specification asks, a connection from one without a header is refused.
 * Off, a connection from a trusted peer that does not start with a header is
 * served as it is, with its own addresses, for a balancer whose health checks
 * send none.
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:proxy-protocol-timeout:
 *
 * The most seconds a connection may take to send its PROXY protocol header,
 * from its accept, however slowly the bytes trickle in; 0 for no limit. The
 * default is 5. A connection from a peer that may send no header (not
 * trusted, or with #UsherSocketService:proxy-protocol-required off) waits as
 * long for its first bytes before it is handed out (with 0, until it sends
 * some).
 *
 * Since: 0.2
 */

/**
 * UsherSocketService::accept-certificate:
 * @service: the #UsherSocketService
 * @connection: the connection in its TLS handshake
 * @peer_certificate: the certificate the client presented
 * @errors: what is wrong with @peer_certificate
 *
 * Emitted, on the service's context, when a client presents a certificate
 * that the TLS backend could not verify against
 * #UsherSocketService:tls-database (or its default database), for
 * applications that judge client certificates themselves. A certificate the
 * backend verified is accepted without asking.
 *
 * Returns: %TRUE to accept the certificate (the handlers after this one do not
 *   run); with no handler, or all returning %FALSE, it is refused and the
 *   handshake fails
 *
 * Since: 0.2
 */

/**
 * UsherSocketService:n-accepted:
 *
 * The connections accepted since the service was created. Notified on the
 * service's context.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:n-accept-errors:
 *
 * The accepts that failed since the service was created (those that were
 * cancelled aside). Notified on the service's context.
 *
 * Since: 0.1
 */

/**
 * usher_socket_service_new:
 *
 * Creates a new, active service with no sockets. Add sockets with the
 * #GSocketListener methods, such as g_socket_listener_add_inet_port(); the
 * service accepts on them as soon as its context runs.
 *
 * Returns: (transfer full): a new #UsherSocketService
 *
 * Since: 0.1
 */
UsherSocketService *usher_socket_service_new (void);

/**
 * usher_socket_service_start:
 * @service: a #UsherSocketService
 *
 * Starts accepting connections again after usher_socket_service_stop(). New
 * services are already active. Safe from any thread. Called from a thread that
 * pushed a thread-default context of its own
 * (g_main_context_push_thread_default()), the service accepts on that context
 * from then on, as #GSocketService does; from a thread without one (a worker),
 * it accepts where it did, where #GSocketService would move to the global
 * default context.
 *
 * Since: 0.1
 */
void usher_socket_service_start (UsherSocketService *service);

/**
 * usher_socket_service_stop:
 * @service: a #UsherSocketService
 *
 * Stops accepting connections. Clients that connect meanwhile wait in the
 * kernel's backlog and are accepted after usher_socket_service_start(). The
 * listening sockets stay open: close them with g_socket_listener_close(). Safe
 * from any thread.
 *
 * Since: 0.1
 */
void usher_socket_service_stop (UsherSocketService *service);

/**
 * usher_socket_service_is_active:
 * @service: a #UsherSocketService
 *
 * Whether the service accepts connections (#UsherSocketService:active). Safe
 * from any thread.
 *
 * Returns: %TRUE if the service is active
 *
 * Since: 0.1
 */
gboolean usher_socket_service_is_active (UsherSocketService *service);

/**
 * usher_socket_service_get_max_connections:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:max-connections, the most live connections before
 * the service stops accepting.
 *
 * Returns: the most live connections, 0 for no limit
 *
 * Since: 0.1
 */
guint usher_socket_service_get_max_connections (UsherSocketService *service);

/**
 * usher_socket_service_set_max_connections:
 * @service: a #UsherSocketService
 * @max_connections: the most live connections, 0 for no limit
 *
 * Sets #UsherSocketService:max-connections. Safe from any thread.
 *
 * Since: 0.1
 */
void usher_socket_service_set_max_connections (UsherSocketService *service,
                                               guint               max_connections);

/**
 * usher_socket_service_get_max_connections_per_peer:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:max-connections-per-peer.
 *
 * Returns: the most live connections from one IP address, 0 for no limit
 *
 * Since: 0.2
 */
guint usher_socket_service_get_max_connections_per_peer (UsherSocketService *service);

/**
 * usher_socket_service_set_max_connections_per_peer:
 * @service: a #UsherSocketService
 * @max_connections_per_peer: the most live connections from one IP address,
 *   0 for no limit
 *
 * Sets #UsherSocketService:max-connections-per-peer. Safe from any thread.
 *
 * Since: 0.2
 */
void usher_socket_service_set_max_connections_per_peer (UsherSocketService *service,
                                                        guint               max_connections_per_peer);

/**
 * usher_socket_service_get_timeout:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:timeout.
 *
 * Returns: the I/O timeout of accepted sockets, in seconds, 0 for none
 *
 * Since: 0.2
 */
guint usher_socket_service_get_timeout (UsherSocketService *service);

/**
 * usher_socket_service_set_timeout:
 * @service: a #UsherSocketService
 * @timeout: the I/O timeout of accepted sockets, in seconds, 0 for none
 *
 * Sets #UsherSocketService:timeout, for the connections accepted from now on.
 *
 * Since: 0.2
 */
void usher_socket_service_set_timeout (UsherSocketService *service,
                                       guint               timeout);

/**
 * usher_socket_service_get_tls_certificate:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:tls-certificate.
 *
 * Returns: (transfer full) (nullable): a reference to the certificate the
 *   service serves TLS with (another thread may change it), to be released
 *   with g_object_unref(), or %NULL for plain TCP
 *
 * Since: 0.2
 */
GTlsCertificate *usher_socket_service_get_tls_certificate (UsherSocketService *service);

/**
 * usher_socket_service_set_tls_certificate:
 * @service: a #UsherSocketService
 * @certificate: (nullable): a certificate with its private key, or %NULL for
 *   plain TCP
 *
 * Sets #UsherSocketService:tls-certificate, for the connections accepted from
 * now on.
 *
 * Since: 0.2
 */
void usher_socket_service_set_tls_certificate (UsherSocketService *service,
                                               GTlsCertificate    *certificate);

/**
 * usher_socket_service_get_tls_database:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:tls-database.
 *
 * Returns: (transfer full) (nullable): a reference to the database client
 *   certificates are verified with, to be released with g_object_unref(), or
 *   %NULL for the backend's default
 *
 * Since: 0.2
 */
GTlsDatabase *usher_socket_service_get_tls_database (UsherSocketService *service);

/**
 * usher_socket_service_set_tls_database:
 * @service: a #UsherSocketService
 * @database: (nullable): a #GTlsDatabase, or %NULL for the backend's default
 *
 * Sets #UsherSocketService:tls-database.
 *
 * Since: 0.2
 */
void usher_socket_service_set_tls_database (UsherSocketService *service,
                                            GTlsDatabase       *database);

/**
 * usher_socket_service_get_tls_authentication_mode:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:tls-authentication-mode.
 *
 * Returns: whether the service asks clients for a certificate
 *
 * Since: 0.2
 */
GTlsAuthenticationMode usher_socket_service_get_tls_authentication_mode (UsherSocketService *service);

/**
 * usher_socket_service_set_tls_authentication_mode:
 * @service: a #UsherSocketService
 * @mode: whether to ask clients for a certificate
 *
 * Sets #UsherSocketService:tls-authentication-mode.
 *
 * Since: 0.2
 */
void usher_socket_service_set_tls_authentication_mode (UsherSocketService     *service,
                                                       GTlsAuthenticationMode  mode);

/**
 * usher_socket_service_get_tls_advertised_protocols:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:tls-advertised-protocols.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the
 *   protocols offered with ALPN, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_service_get_tls_advertised_protocols (UsherSocketService *service);

/**
 * usher_socket_service_set_tls_advertised_protocols:
 * @service: a #UsherSocketService
 * @protocols: (nullable) (array zero-terminated=1): the protocols to offer
 *   with ALPN, in order of preference, or %NULL for none
 *
 * Sets #UsherSocketService:tls-advertised-protocols.
 *
 * Since: 0.2
 */
void usher_socket_service_set_tls_advertised_protocols (UsherSocketService *service,
                                                        const gchar * const *protocols);

/**
 * usher_socket_service_get_tls_handshake_timeout:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:tls-handshake-timeout.
 *
 * Returns: the most seconds a TLS handshake may take, 0 for no limit
 *
 * Since: 0.2
 */
guint usher_socket_service_get_tls_handshake_timeout (UsherSocketService *service);

/**
 * usher_socket_service_set_tls_handshake_timeout:
 * @service: a #UsherSocketService
 * @timeout: the most seconds a TLS handshake may take, 0 for no limit
 *
 * Sets #UsherSocketService:tls-handshake-timeout.
 *
 * Since: 0.2
 */
void usher_socket_service_set_tls_handshake_timeout (UsherSocketService *service,
                                                     guint               timeout);

/**
 * usher_socket_service_get_proxy_protocol_peers:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:proxy-protocol-peers, each entry in its canonical
 * form (`"10.0.0.0/8"`, `"::1"`).
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the
 *   balancers trusted to send a PROXY protocol header, or %NULL for none; free
 *   with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_service_get_proxy_protocol_peers (UsherSocketService *service);

/**
 * usher_socket_service_set_proxy_protocol_peers:
 * @service: a #UsherSocketService
 * @peers: (nullable) (array zero-terminated=1): addresses and CIDR ranges of
 *   the balancers trusted to send a PROXY protocol header, or %NULL for none
 *
 * Sets #UsherSocketService:proxy-protocol-peers, as g_object_set() does: an
 * entry that is neither an address nor a range logs a critical and leaves the
 * list as it was. For a list read from a configuration file, use
 * usher_socket_service_try_set_proxy_protocol_peers(), which says what is
 * wrong.
 *
 * Since: 0.2
 */
void usher_socket_service_set_proxy_protocol_peers (UsherSocketService  *service,
                                                    const gchar * const *peers);

/**
 * usher_socket_service_try_set_proxy_protocol_peers:
 * @service: a #UsherSocketService
 * @peers: (nullable) (array zero-terminated=1): addresses and CIDR ranges of
 *   the balancers trusted to send a PROXY protocol header, or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketService:proxy-protocol-peers from addresses and CIDR
 * ranges (`"127.0.0.1"`, `"10.0.0.0/8"`, `"fd00::/8"`), as read from a
 * configuration file; %NULL or an empty list turns the PROXY protocol off. It
 * fails with %G_IO_ERROR_INVALID_ARGUMENT, saying which entry is wrong and
 * how, and leaves the list as it was, if an entry is neither an address nor a
 * range (or a range with bits set beyond its prefix, such as `"10.1.2.3/8"`).
 *
 * Returns: %TRUE if the list was set
 *
 * Since: 0.2
 */
gboolean usher_socket_service_try_set_proxy_protocol_peers (UsherSocketService   *service,
                                                            const gchar * const  *peers,
                                                            GError              **error);

/**
 * usher_socket_service_get_proxy_protocol_required:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:proxy-protocol-required.
 *
 * Returns: whether a trusted peer must send a PROXY protocol header
 *
 * Since: 0.2
 */
gboolean usher_socket_service_get_proxy_protocol_required (UsherSocketService *service);

/**
 * usher_socket_service_set_proxy_protocol_required:
 * @service: a #UsherSocketService
 * @required: whether a trusted peer must send a PROXY protocol header
 *
 * Sets #UsherSocketService:proxy-protocol-required.
 *
 * Since: 0.2
 */
void usher_socket_service_set_proxy_protocol_required (UsherSocketService *service,
                                                       gboolean            required);

/**
 * usher_socket_service_get_proxy_protocol_timeout:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:proxy-protocol-timeout.
 *
 * Returns: the most seconds a PROXY protocol header may take, 0 for no limit
 *
 * Since: 0.2
 */
guint usher_socket_service_get_proxy_protocol_timeout (UsherSocketService *service);

/**
 * usher_socket_service_set_proxy_protocol_timeout:
 * @service: a #UsherSocketService
 * @timeout: the most seconds a PROXY protocol header may take, 0 for no limit
 *
 * Sets #UsherSocketService:proxy-protocol-timeout.
 *
 * Since: 0.2
 */
void usher_socket_service_set_proxy_protocol_timeout (UsherSocketService *service,
                                                      guint               timeout);

/**
 * usher_socket_service_get_n_connections:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:n-connections: the connections the service handed
 * out and that are not yet closed or finalized.
 *
 * Returns: the number of live connections
 *
 * Since: 0.1
 */
guint usher_socket_service_get_n_connections (UsherSocketService *service);

/**
 * usher_socket_service_get_n_accepted:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:n-accepted: the connections accepted since the
 * service was created.
 *
 * Returns: the number of connections accepted so far
 *
 * Since: 0.1
 */
guint64 usher_socket_service_get_n_accepted (UsherSocketService *service);

/**
 * usher_socket_service_get_n_accept_errors:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:n-accept-errors: the accepts that failed since the
 * service was created, those that were cancelled aside.
 *
 * Returns: the number of accepts that failed so far
 *
 * Since: 0.1
 */
guint64 usher_socket_service_get_n_accept_errors (UsherSocketService *service);

/**
 * usher_socket_service_shutdown_async:
 * @service: a #UsherSocketService
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async) (closure user_data): called when the service has shut
 *   down
 * @user_data: data for @callback
 *
 * Shuts the service down gracefully: stops accepting, closes the listening
 * sockets (as g_socket_listener_close() does) so that the ports are free at
 * once, and serves every client it has already accepted: a connection in its
 * PROXY protocol header, its ClientHello or its TLS handshake goes on through
 * them (within their own timeouts) to #UsherSocketService::incoming, and
 * clients taken off a socket's backlog and not yet handed out (after
 * usher_socket_service_stop(), say) are handed out in a later iteration of
 * the service's context. It completes when all of those were handed out,
 * every connection the service handed out is closed, and, for a
 * #UsherThreadedSocketService, every #UsherThreadedSocketService::run
 * handler has returned. Call usher_socket_service_shutdown_finish() from
 * @callback. The service cannot be started again.
 *
 * Cancelling @cancellable ends the wait with %G_IO_ERROR_CANCELLED: the
 * connections stay open, the listening sockets closed.
 *
 * To bound the wait, call usher_socket_service_close_connections() after a
 * deadline of your choosing: the shutdown then completes.
 *
 * Since: 0.1
 */
void usher_socket_service_shutdown_async (UsherSocketService  *service,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);

/**
 * usher_socket_service_shutdown_finish:
 * @service: a #UsherSocketService
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes usher_socket_service_shutdown_async().
 *
 * Returns: %TRUE once every connection is closed, %FALSE if the wait was
 *   cancelled
 *
 * Since: 0.1
 */
gboolean usher_socket_service_shutdown_finish (UsherSocketService  *service,
                                               GAsyncResult        *result,
                                               GError             **error);

/**
 * UsherActivatedSourceFunc:
 * @name: the socket's name, from `LISTEN_FDNAMES` (the `FileDescriptorName=` of
 *   its `.socket` unit) or the predecessor's handover, or `"unknown"`
 * @user_data: the data given to usher_socket_service_add_activated_sockets()
 *   or usher_socket_service_take_over()
 *
 * Chooses the source_object of a socket passed by socket activation or
 * taken over from a predecessor, so that #UsherSocketService::incoming
 * handlers can tell the sockets apart.
 *
 * Returns: (transfer full) (nullable): the source_object for the socket named
 *   @name, or %NULL
 *
 * Since: 0.1
 */
typedef GObject *(*UsherActivatedSourceFunc) (const char *name,
                                              gpointer    user_data);

/**
 * usher_socket_service_add_activated_sockets:
 * @service: a #UsherSocketService
 * @source_func: (nullable) (scope call) (closure user_data): chooses each
 *   socket's source_object, or %NULL for none
 * @user_data: data for @source_func
 * @error: return location for a #GError, or %NULL
 *
 * Adds the listening sockets passed to this process by systemd socket
 * activation, or by any launcher that follows the sd_listen_fds() protocol
 * (`systemd-socket-activate`, for one). Stream sockets of any family work,
 * Unix-domain ones included.
 *
 * Like sd_listen_fds(), it checks `LISTEN_PID`, adopts the sockets close-on-exec
 * and, once it succeeds, unsets `LISTEN_PID`, `LISTEN_FDS` and
 * `LISTEN_FDNAMES`, so that child processes inherit neither the sockets nor the
 * variables: call it early, before starting threads that might read the
 * environment. The sockets are adopted as duplicates of the passed descriptors,
 * which are closed once every duplicate is the service's. A second call adds
 * nothing.
 *
 * The variables are untrusted input: the descriptors are checked one at a
 * time, and on any error nothing is adopted, no descriptor is closed or
 * altered, and the environment is left as it was. It fails with
 * %G_IO_ERROR_INVALID_DATA when `LISTEN_FDS` is no count of descriptors or
 * `LISTEN_FDNAMES` names another number of them (as sd_listen_fds_with_names()
 * returns `-EINVAL`) or gives a name systemd would not take (see
 * #UsherSocketSettings:name), with %G_IO_ERROR_NOT_SUPPORTED at the first
 * passed descriptor that is not a listening stream socket, and with
 * %G_IO_ERROR_CLOSED when the listener is closed, by @source_func too.
 *
 * Returns: how many sockets were added: 0, without error, when the process
 *   was not socket-activated
 *
 * Since: 0.1
 */
guint usher_socket_service_add_activated_sockets (UsherSocketService        *service,
                                                  UsherActivatedSourceFunc   source_func,
                                                  gpointer                   user_data,
                                                  GError                   **error);

/**
 * usher_socket_service_store_sockets:
 * @service: a #UsherSocketService
 * @error: return location for a #GError, or %NULL
 *
 * Sends the service's listening sockets to systemd's file descriptor store,
 * so that the next instance of the unit gets them back, with
 * usher_socket_service_add_activated_sockets(), and no client is refused
 * while the service restarts: systemd holds the sockets meanwhile, and
 * clients wait in their backlogs.
 *
 * Each socket goes to `$NOTIFY_SOCKET` (a path, or an abstract name after
 * `@`) in a message of its own, as sd_pid_notify_with_fds() sends it:
 * `FDSTORE=1` and `FDNAME=` its name, which is the one it was passed with,
 * else its settings' #UsherSocketSettings:name, else `"unknown"`; the next
 * instance gets it as `LISTEN_FDNAMES`. The sockets systemd passed (through
 * `LISTEN_FDS`) are not sent: it holds them already. A Unix socket file the
 * service made is systemd's from then on: the service no longer removes it
 * when it lets go of the socket, as the next instance serves it.
 *
 * The unit needs `FileDescriptorStoreMax=` (systemd drops stored descriptors
 * beyond it, and reports that only in its own log) and a notify socket
 * (`Type=notify`, or `NotifyAccess=`). Fails with %G_IO_ERROR_NOT_FOUND when
 * `NOTIFY_SOCKET` is not set, with the error of connect() when nothing
 * listens there, and with the error of sendmsg() when systemd refuses a
 * socket; the sockets sent before it stay stored.
 *
 * Returns: how many sockets were sent
 *
 * Since: 0.2
 */
guint usher_socket_service_store_sockets (UsherSocketService  *service,
                                          GError             **error);

/**
 * usher_socket_service_hand_over_async:
 * @service: a #UsherSocketService
 * @address: a #GUnixSocketAddress at a path that does not exist yet, or an
 *   abstract name
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async) (closure user_data): called once the successor
 *   accepts on the sockets, or the handover failed
 * @user_data: data for @callback
 *
 * Hands the service's listening sockets over to its successor, a process of
 * the same user that calls usher_socket_service_take_over() with @address.
 * This is how to restart (upgrade, reload the configuration) without systemd
 * and without refusing a client.
 *
 * It listens on @address at once: start the successor once this returns. A
 * process of another user that connects gets nothing (it is refused with a
 * warning; `SO_PEERCRED` tells its user) and the wait goes on. To the first
 * process of this user it sends the service's listening sockets (those it
 * accepts on itself: all but those given to g_socket_listener_add_socket()),
 * with their names (the one a socket was passed with, else its settings'
 * #UsherSocketSettings:name, else `"unknown"`), from which the successor tags
 * them, and the Unix socket files the service made, which are the
 * successor's from then on. A path at @address is removed when done; a stale
 * socket file there, left by a predecessor killed mid-handover, is replaced,
 * a path where a server answers refused (%G_IO_ERROR_ADDRESS_IN_USE), and a
 * file that is not a socket never touched.
 *
 * The service goes on accepting meanwhile: the kernel's backlog of each
 * socket is shared by both processes, and each client in it is accepted by
 * exactly one of them. The handover completes once the successor has adopted
 * the sockets and runs its main context, where it accepts: then shut this
 * service down with usher_socket_service_shutdown_async(), with a deadline of
 * your choosing before usher_socket_service_close_connections(). It fails,
 * and the service serves on as it did, when the successor refuses the sockets
 * (%G_IO_ERROR_FAILED, saying why) or goes away before it is ready
 * (%G_IO_ERROR_BROKEN_PIPE), or when the service has no socket to hand over
 * (%G_IO_ERROR_NOT_FOUND). It waits for a successor as long as it takes:
 * cancel @cancellable once the successor has exited, or after a deadline
 * (%G_IO_ERROR_CANCELLED). Call usher_socket_service_hand_over_finish() from
 * @callback, which is called on the thread-default #GMainContext of the
 * calling thread; another thread must not own that context (a critical
 * otherwise).
 *
 * Since: 0.2
 */
void usher_socket_service_hand_over_async (UsherSocketService  *service,
                                           GSocketAddress      *address,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);

/**
 * usher_socket_service_hand_over_finish:
 * @service: a #UsherSocketService
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes usher_socket_service_hand_over_async().
 *
 * Returns: how many sockets the successor took over, 0 on error
 *
 * Since: 0.2
 */
guint usher_socket_service_hand_over_finish (UsherSocketService  *service,
                                             GAsyncResult        *result,
                                             GError             **error);

/**
 * usher_socket_service_take_over:
 * @service: a #UsherSocketService
 * @address: the #GUnixSocketAddress the predecessor hands over at
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @source_func: (nullable) (scope call) (closure user_data): chooses each
 *   socket's source_object, from its name, or %NULL for none
 * @user_data: data for @source_func
 * @error: return location for a #GError, or %NULL
 *
 * Takes over the listening sockets of the predecessor that hands them over at
 * @address (usher_socket_service_hand_over_async()). @source_func is called
 * with each socket's name, as for
 * usher_socket_service_add_activated_sockets(); the names also choose the
 * settings given with usher_socket_service_set_named_socket_settings(). The
 * sockets are served as the service's own, and a Unix socket file the
 * predecessor made is the service's from then on. In the first iteration of
 * the service's context, where it accepts, it tells the predecessor, which
 * then stops accepting.
 *
 * It blocks until the predecessor's message is there (at most 10 seconds),
 * or @cancellable is cancelled. The message is untrusted input, checked as
 * `LISTEN_FDS` is: the predecessor must run as this process's user
 * (`SO_PEERCRED`; %G_IO_ERROR_PERMISSION_DENIED otherwise), and the message
 * must be well formed, with one descriptor per name and at most 64
 * (%G_IO_ERROR_INVALID_DATA), each a listening stream socket
 * (%G_IO_ERROR_NOT_SUPPORTED); the listener must not be closed, by
 * @source_func either (%G_IO_ERROR_CLOSED). On any error nothing is adopted,
 * every descriptor received is closed, and the predecessor is told why and
 * serves on. A socket the service serves already is not added twice.
 *
 * Returns: how many sockets were added, 0 on error
 *
 * Since: 0.2
 */
guint usher_socket_service_take_over (UsherSocketService        *service,
                                      GSocketAddress            *address,
                                      GCancellable              *cancellable,
                                      UsherActivatedSourceFunc   source_func,
                                      gpointer                   user_data,
                                      GError                   **error);

/**
 * usher_socket_service_add_reuse_port_address:
 * @service: a #UsherSocketService
 * @address: the address to listen on
 * @source_object: (nullable): the source_object of the socket, or %NULL
 * @effective_address: (out) (optional) (transfer full): the address it is
 *   bound to (with the port chosen if @address had port 0)
 * @error: return location for a #GError, or %NULL
 *
 * Listens on @address with a TCP socket that shares its port with other
 * sockets that set `SO_REUSEPORT`. This is how to spread a port's connections
 * over several cores: run one service per thread, each created with its own
 * #GMainContext pushed as the thread-default one, and add the same address to
 * each; the kernel balances new connections between them.
 * (g_socket_listener_add_address() cannot: GLib clears `SO_REUSEPORT` on stream
 * sockets.) The #GSocketListener::event signal is emitted as for
 * g_socket_listener_add_address().
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean usher_socket_service_add_reuse_port_address (UsherSocketService  *service,
                                                      GSocketAddress      *address,
                                                      GObject             *source_object,
                                                      GSocketAddress     **effective_address,
                                                      GError             **error);

/**
 * usher_socket_service_close_connections:
 * @service: a #UsherSocketService
 *
 * Shuts down, in both directions, every live connection the service handed
 * out, or has in its TLS handshake (those still in their PROXY protocol header
 * or ClientHello are closed, and so are the clients a shutdown has still to
 * hand out): the peers see the end of the stream, reads in progress end,
 * writes fail. None of them is handed out afterwards. The service stops
 * counting them, so a pending
 * usher_socket_service_shutdown_async() completes (once the
 * #UsherThreadedSocketService::run handlers return, for a threaded service).
 * Each #GSocketConnection releases its descriptor when its owner closes or
 * drops it. Safe from any thread: it happens at once on a thread that runs
 * the service's context (in a handler, say), otherwise in the context's next
 * iteration, where the connections are closed, so that no socket is shut down
 * after its owner closed it and its descriptor went to another connection.
 *
 * Since: 0.1
 */
void usher_socket_service_close_connections (UsherSocketService *service);

/**
 * usher_socket_service_get_socket_settings:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:socket-settings, the service's own settings, the
 * default of every listening socket.
 *
 * Returns: (transfer none): the service's settings
 *
 * Since: 0.2
 */
UsherSocketSettings *usher_socket_service_get_socket_settings (UsherSocketService *service);

/**
 * usher_socket_service_add_address_full:
 * @service: a #UsherSocketService
 * @address: the address to listen on
 * @type: the #GSocketType of the socket
 * @protocol: the #GSocketProtocol of the socket
 * @source_object: (nullable): the source_object of the socket, or %NULL
 * @settings: (nullable): the settings of the socket, or %NULL for the
 *   service's (#UsherSocketService:socket-settings)
 * @effective_address: (out) (optional) (transfer full): the address it is
 *   bound to
 * @error: return location for a #GError, or %NULL
 *
 * Listens on @address, as g_socket_listener_add_address() does, and serves
 * the socket with @settings. A #GUnixSocketAddress path is made right: where a
 * server answers, it fails with %G_IO_ERROR_ADDRESS_IN_USE (to tell, it
 * connects to the path once: the server sees a client that hangs up at once);
 * a stale socket file is replaced, a file that is not a socket never touched;
 * the file gets #UsherSocketSettings:unix-mode, #UsherSocketSettings:unix-owner
 * and #UsherSocketSettings:unix-group before any client can connect, and is
 * removed with the socket if it is still the one bound.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_service_add_address_full (UsherSocketService   *service,
                                                GSocketAddress       *address,
                                                GSocketType           type,
                                                GSocketProtocol       protocol,
                                                GObject              *source_object,
                                                UsherSocketSettings  *settings,
                                                GSocketAddress      **effective_address,
                                                GError              **error);

/**
 * usher_socket_service_add_inet_port_full:
 * @service: a #UsherSocketService
 * @port: the TCP port to listen on, not 0
 * @source_object: (nullable): the source_object of the sockets, or %NULL
 * @settings: (nullable): the settings of the sockets, or %NULL for the
 *   service's
 * @error: return location for a #GError, or %NULL
 *
 * Listens on TCP port @port of every address, as
 * g_socket_listener_add_inet_port() does, and serves the sockets with
 * @settings.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_service_add_inet_port_full (UsherSocketService   *service,
                                                  guint16               port,
                                                  GObject              *source_object,
                                                  UsherSocketSettings  *settings,
                                                  GError              **error);

/**
 * usher_socket_service_add_any_inet_port_full:
 * @service: a #UsherSocketService
 * @source_object: (nullable): the source_object of the sockets, or %NULL
 * @settings: (nullable): the settings of the sockets, or %NULL for the
 *   service's
 * @error: return location for a #GError, or %NULL
 *
 * Listens on a TCP port the system chooses, of every address, as
 * g_socket_listener_add_any_inet_port() does, and serves the sockets with
 * @settings.
 *
 * Returns: the port, or 0 on error
 *
 * Since: 0.2
 */
guint16 usher_socket_service_add_any_inet_port_full (UsherSocketService   *service,
                                                     GObject              *source_object,
                                                     UsherSocketSettings  *settings,
                                                     GError              **error);

/**
 * usher_socket_service_add_socket_full:
 * @service: a #UsherSocketService
 * @socket: a listening #GSocket
 * @source_object: (nullable): the source_object of the socket, or %NULL
 * @settings: (nullable): the settings of the socket, or %NULL for the
 *   service's
 * @error: return location for a #GError, or %NULL
 *
 * Adds @socket, as g_socket_listener_add_socket() does, and serves it with
 * @settings. Unlike a socket given to g_socket_listener_add_socket(), which
 * the service accepts on through the listener, one at a time, it is served as
 * the service's own sockets are.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_service_add_socket_full (UsherSocketService   *service,
                                               GSocket              *socket,
                                               GObject              *source_object,
                                               UsherSocketSettings  *settings,
                                               GError              **error);

/**
 * usher_socket_service_set_socket_settings:
 * @service: a #UsherSocketService
 * @socket: a listening socket of @service
 * @settings: (nullable): the settings of the socket, or %NULL for the
 *   service's
 * @error: return location for a #GError, or %NULL
 *
 * Serves the listening @socket with @settings from now on: the connections
 * accepted from then on. Fails with %G_IO_ERROR_NOT_FOUND if @socket is not
 * one the service accepts on itself: one that came through
 * g_socket_listener_add_socket() (use usher_socket_service_add_socket_full()),
 * or of another service. usher_socket_service_get_listening_socket() gives a
 * connection's; #GSocketListener::event gives each one as it is made.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_service_set_socket_settings (UsherSocketService   *service,
                                                   GSocket              *socket,
                                                   UsherSocketSettings  *settings,
                                                   GError              **error);

/**
 * usher_socket_service_set_named_socket_settings:
 * @service: a #UsherSocketService
 * @name: a socket's name, as `LISTEN_FDNAMES` gives it
 * @settings: (nullable): the settings of the sockets, or %NULL for the
 *   service's
 *
 * Serves the listening sockets named @name with @settings, those added
 * already and those added later: the sockets passed to the process with that
 * name (usher_socket_service_add_activated_sockets()).
 *
 * Since: 0.2
 */
void usher_socket_service_set_named_socket_settings (UsherSocketService  *service,
                                                     const char          *name,
                                                     UsherSocketSettings *settings);

/**
 * usher_socket_service_get_listening_socket:
 * @connection: a #GSocketConnection
 *
 * Gets the listening socket @connection came through, if a service handed it
 * out and knows it (not for one accepted through the listener, after
 * g_socket_listener_add_socket()) and the socket is still there. Its settings
 * are usher_socket_settings_get_for_connection().
 *
 * Returns: (transfer full) (nullable): a reference to the listening socket,
 *   to be released with g_object_unref(), or %NULL
 *
 * Since: 0.2
 */
GSocket *usher_socket_service_get_listening_socket (GSocketConnection *connection);

/**
 * usher_socket_service_get_peer_credentials:
 * @connection: a Unix-domain #GSocketConnection
 * @error: return location for a #GError, or %NULL
 *
 * Gets the credentials of the process at the other end of @connection: those
 * the service checked at its accept (#UsherSocketSettings:allowed-users,
 * #UsherSocketService::accept-credentials), or, if it did not,
 * g_socket_get_credentials() of its socket. Fails for a connection without
 * credentials (TCP).
 *
 * Returns: (transfer full) (nullable): the credentials, or %NULL on error
 *
 * Since: 0.2
 */
GCredentials *usher_socket_service_get_peer_credentials (GSocketConnection  *connection,
                                                          GError            **error);

/**
 * usher_socket_service_get_n_refused:
 * @service: a #UsherSocketService
 * @reason: a reason
 *
 * Gets how many connections the service refused for @reason since it was
 * created (for %USHER_REFUSAL_MAX_CONNECTIONS and %USHER_REFUSAL_OVERLOAD, how
 * many times it paused accepting).
 *
 * Returns: the count
 *
 * Since: 0.2
 */
guint64 usher_socket_service_get_n_refused (UsherSocketService *service,
                                            UsherRefusal        reason);

/**
 * usher_socket_service_get_memory_monitor:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:memory-monitor.
 *
 * Returns: (transfer full) (nullable): a reference to the monitor, to be
 *   released with g_object_unref(), or %NULL
 *
 * Since: 0.2
 */
GMemoryMonitor *usher_socket_service_get_memory_monitor (UsherSocketService *service);

/**
 * usher_socket_service_set_memory_monitor:
 * @service: a #UsherSocketService
 * @monitor: (nullable): a monitor, or %NULL for none
 *
 * Sets #UsherSocketService:memory-monitor.
 *
 * Since: 0.2
 */
void usher_socket_service_set_memory_monitor (UsherSocketService *service,
                                              GMemoryMonitor     *monitor);

/**
 * usher_socket_service_get_descriptor_margin:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:descriptor-margin.
 *
 * Returns: the margin
 *
 * Since: 0.2
 */
guint usher_socket_service_get_descriptor_margin (UsherSocketService *service);

/**
 * usher_socket_service_set_descriptor_margin:
 * @service: a #UsherSocketService
 * @margin: the margin, 0 for none
 *
 * Sets #UsherSocketService:descriptor-margin.
 *
 * Since: 0.2
 */
void usher_socket_service_set_descriptor_margin (UsherSocketService *service,
                                                 guint               margin);

/**
 * usher_socket_service_get_overloaded:
 * @service: a #UsherSocketService
 *
 * Gets #UsherSocketService:overloaded.
 *
 * Returns: whether accepting is paused for want of memory or descriptors
 *
 * Since: 0.2
 */
gboolean usher_socket_service_get_overloaded (UsherSocketService *service);

G_END_DECLS
