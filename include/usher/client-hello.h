/* UsherClientHello: what a client's TLS ClientHello asked for.
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
 * UsherClientHello:
 *
 * What a client asked for in its TLS ClientHello, the first message of its
 * handshake: the server name (SNI, #UsherClientHello:server-name), and the
 * application protocols it offers (ALPN, #UsherClientHello:alpn-protocols).
 *
 * A service reads the ClientHello of each connection on a socket that chooses
 * its certificate by name (#UsherSocketSettings:tls-certificate-names), or
 * when a #UsherSocketService::select-certificate handler is connected, before
 * the handshake: it peeks at the bytes, which stay for the TLS library. The
 * connection handed to #UsherSocketService::incoming carries what it read,
 * which usher_client_hello_get_for_connection() gives:
 *
 * |[<!-- language="C" -->
 * static gboolean
 * incoming (UsherSocketService *service, GSocketConnection *connection,
 *           GObject *source_object, gpointer user_data)
 * {
 *   UsherClientHello *hello = usher_client_hello_get_for_connection (connection);
 *
 *   if (hello != NULL && usher_client_hello_get_server_name (hello) != NULL)
 *     g_print ("a client for %s\n", usher_client_hello_get_server_name (hello));
 *   return FALSE;
 * }
 * ]|
 *
 * It is immutable, and may be read from any thread.
 *
 * Since: 0.2
 */

/**
 * USHER_TYPE_CLIENT_HELLO:
 *
 * The #GType of #UsherClientHello.
 *
 * Since: 0.2
 */
#define USHER_TYPE_CLIENT_HELLO (usher_client_hello_get_type ())
G_DECLARE_FINAL_TYPE (UsherClientHello, usher_client_hello, USHER, CLIENT_HELLO, GObject)

/**
 * UsherClientHello:server-name:
 *
 * The server name the client asked for (the `server_name` extension, SNI),
 * lowercase, without a trailing dot; %NULL when it asked for none (it
 * connected by address, or sends no SNI).
 *
 * Since: 0.2
 */

/**
 * UsherClientHello:alpn-protocols:
 *
 * The application protocols the client offers (ALPN), in its order of
 * preference; empty when it offers none. A protocol name that is not UTF-8, or
 * holds a NUL byte, is left out.
 *
 * Since: 0.2
 */

/**
 * usher_client_hello_get_for_connection:
 * @connection: a #GSocketConnection
 *
 * Gets what the ClientHello of @connection asked for, if @connection came
 * from a service that read it: one that chooses certificates by name, or
 * whose #UsherSocketService::select-certificate has a handler.
 *
 * Returns: (transfer none) (nullable): what the ClientHello said, which
 *   @connection keeps, or %NULL if it was not read
 *
 * Since: 0.2
 */
UsherClientHello *usher_client_hello_get_for_connection (GSocketConnection *connection);

/**
 * usher_client_hello_get_server_name:
 * @hello: a #UsherClientHello
 *
 * Gets #UsherClientHello:server-name.
 *
 * Returns: (transfer none) (nullable): the server name, or %NULL for none
 *
 * Since: 0.2
 */
const gchar *usher_client_hello_get_server_name (UsherClientHello *hello);

/**
 * usher_client_hello_get_alpn_protocols:
 * @hello: a #UsherClientHello
 *
 * Gets #UsherClientHello:alpn-protocols.
 *
 * Returns: (transfer none) (array zero-terminated=1): the protocols, an
 *   empty list for none
 *
 * Since: 0.2
 */
const gchar * const *usher_client_hello_get_alpn_protocols (UsherClientHello *hello);

G_END_DECLS
