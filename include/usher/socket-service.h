/* UsherSocketService: GLib's GSocketService, re-implemented.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (__USHER_H_INSIDE__) && !defined (USHER_COMPILATION)
#error "Only <usher/usher.h> can be included directly."
#endif

#include <gio/gio.h>

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
 * The service accepts on the thread-default #GMainContext of the thread that
 * created it, always. usher_socket_service_start() and
 * usher_socket_service_stop() may be called from any thread; the rest of the
 * API, as with #GSocketListener, from the service's thread.
 *
 * Where GLib's service is weak, Usher does more: it accepts every waiting
 * connection when a socket is readable (up to 64 per main-loop turn), never
 * loses a client queued when usher_socket_service_stop() is called, starts
 * accepting when a socket is added after an early usher_socket_service_start(),
 * stops cleanly when g_socket_listener_close() is called on an active service,
 * and reports failed accepts with #UsherSocketService::accept-error, pausing
 * with a growing backoff instead of spinning when the process runs out of file
 * descriptors.
 *
 * A new service is active. Like GLib's, an active service with sockets keeps a
 * reference to itself; a stopped one does not, so dropping the last reference
 * to a stopped service frees it and closes its listening sockets.
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

  /*< private >*/
  gpointer padding[5];
};

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
 * reason than a cancellation. The service keeps serving: it retries at once
 * after a transient error (the client gave up, for instance), and after a short
 * pause, growing to well under a second, when out of resources (file
 * descriptors, memory).
 *
 * While no handler is connected, the service logs a warning at most once a
 * second, with the number of failures folded into it.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:active:
 *
 * Whether the service is accepting connections: what the application asked
 * for with usher_socket_service_start() and usher_socket_service_stop(). A
 * service waiting for a free thread, a free connection slot or free file
 * descriptors stays active meanwhile.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:max-connections:
 *
 * The most live connections before the service stops accepting; 0 (the
 * default) for no limit. At the limit, new clients wait in the kernel's backlog,
 * neither accepted nor refused, until a connection closes. A connection counts
 * from its #UsherSocketService::incoming until it is closed or finalized.
 *
 * Since: 0.1
 */

/**
 * UsherSocketService:n-connections:
 *
 * The connections the service handed out and that are not yet closed or
 * finalized. Notified on the service's context.
 *
 * Since: 0.1
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
 * services are already active. Safe from any thread: accepting happens on the
 * context the service was created in, whichever thread calls this.
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
 * @callback: (scope async): called when the service has shut down
 * @user_data: (closure): data for @callback
 *
 * Shuts the service down gracefully: stops accepting, closes the listening
 * sockets (as g_socket_listener_close() does) so that the ports are free at
 * once, then completes when every connection the service handed out is closed,
 * and, for a #UsherThreadedSocketService, every #UsherThreadedSocketService::run
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
 *   its `.socket` unit), or `"unknown"`
 * @user_data: the data given to usher_socket_service_add_activated_sockets()
 *
 * Chooses the source_object of a socket passed by socket activation, so that
 * #UsherSocketService::incoming handlers can tell the sockets apart.
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
 * @source_func: (nullable) (scope call): chooses each socket's source_object,
 *   or %NULL for none
 * @user_data: (closure source_func): data for @source_func
 * @error: return location for a #GError, or %NULL
 *
 * Adds the listening sockets passed to this process by systemd socket
 * activation, or by any launcher that follows the sd_listen_fds() protocol
 * (`systemd-socket-activate`, for one). Stream sockets of any family work,
 * Unix-domain ones included.
 *
 * Like sd_listen_fds(), it checks `LISTEN_PID`, marks the sockets close-on-exec
 * and unsets `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`, so that child
 * processes inherit neither the sockets nor the variables: call it early,
 * before starting threads that might read the environment. If a passed
 * descriptor is not a listening socket, it fails with
 * %G_IO_ERROR_NOT_SUPPORTED and leaves the descriptors and the environment
 * alone.
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
 * out: the peers see the end of the stream, reads in progress end, writes
 * fail. The service stops counting them at once, so a pending
 * usher_socket_service_shutdown_async() completes (once the
 * #UsherThreadedSocketService::run handlers return, for a threaded service).
 * Each #GSocketConnection releases its descriptor when its owner closes or
 * drops it. Safe from any thread.
 *
 * Since: 0.1
 */
void usher_socket_service_close_connections (UsherSocketService *service);

G_END_DECLS
