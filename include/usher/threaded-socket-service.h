/* UsherThreadedSocketService: GLib's GThreadedSocketService, re-implemented.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (__USHER_H_INSIDE__) && !defined (USHER_COMPILATION)
#error "Only <usher/usher.h> can be included directly."
#endif

#include <usher/socket-service.h>

G_BEGIN_DECLS

/**
 * UsherThreadedSocketService:
 *
 * A #UsherSocketService that handles each connection in a worker thread, by
 * emitting #UsherThreadedSocketService::run there. The handler may block, and
 * need not return until it is done with the connection.
 *
 * It is a re-implementation of #GThreadedSocketService. Handlers run in a
 * shared thread pool, at most #UsherThreadedSocketService:max-threads at once;
 * while they are all busy, the service stops accepting and clients wait in
 * the kernel's backlog, and it accepts again, on its own context, as soon as
 * one returns. Unlike GLib's, a saturated pool leaves
 * #UsherSocketService:active alone, so a usher_socket_service_stop() made
 * meanwhile holds, and a #UsherThreadedSocketService:max-threads of 0 means one
 * thread per processor instead of none.
 *
 * Since: 0.1
 */

/**
 * USHER_TYPE_THREADED_SOCKET_SERVICE:
 *
 * The #GType of #UsherThreadedSocketService.
 *
 * Since: 0.1
 */
#define USHER_TYPE_THREADED_SOCKET_SERVICE (usher_threaded_socket_service_get_type ())
G_DECLARE_DERIVABLE_TYPE (UsherThreadedSocketService, usher_threaded_socket_service, USHER, THREADED_SOCKET_SERVICE, UsherSocketService)

/**
 * UsherThreadedSocketServiceClass:
 * @parent_class: the parent class
 * @run: class handler of #UsherThreadedSocketService::run; there is no default
 *
 * The class structure. It has the size of #GThreadedSocketServiceClass, with
 * @run at the same offset.
 *
 * Since: 0.1
 */
struct _UsherThreadedSocketServiceClass
{
  UsherSocketServiceClass parent_class;

  gboolean (* run) (UsherThreadedSocketService *service,
                    GSocketConnection          *connection,
                    GObject                    *source_object);

  /*< private >*/
  gpointer padding[5];
};

/**
 * UsherThreadedSocketService::run:
 * @service: the #UsherThreadedSocketService
 * @connection: a new #GSocketConnection object
 * @source_object: (nullable): the source_object passed to
 *   g_socket_listener_add_address() for the socket @connection came in on
 *
 * Emitted in a worker thread in response to an incoming connection. This
 * thread is dedicated to handling @connection and may perform blocking IO. The
 * signal handler need not return until the connection is closed.
 *
 * Returns: %TRUE to stop further signal handlers from being called
 *
 * Since: 0.1
 */

/**
 * UsherThreadedSocketService:max-threads:
 *
 * The most handlers that run at once: -1 for no limit, 0 for one per
 * processor.
 *
 * Since: 0.1
 */

/**
 * usher_threaded_socket_service_new:
 * @max_threads: the most threads handling clients at once: -1 for no limit, 0
 *   for one per processor
 *
 * Creates a new, active #UsherThreadedSocketService. As
 * g_threaded_socket_service_new(), it returns the parent type.
 *
 * Returns: (transfer full) (type UsherThreadedSocketService): a new service
 *
 * Since: 0.1
 */
UsherSocketService *usher_threaded_socket_service_new (int max_threads);

G_END_DECLS
