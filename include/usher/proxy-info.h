/* UsherProxyInfo: what a load balancer's PROXY protocol header said of a connection.
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
 * UsherProxyCommand:
 * @USHER_PROXY_COMMAND_LOCAL: the balancer opened the connection itself, as
 *   for a health check (a version 2 `LOCAL` header): the connection's own
 *   addresses are the real ones
 * @USHER_PROXY_COMMAND_PROXY: the balancer relayed a client's connection (a
 *   version 2 `PROXY` header, and every version 1 line)
 *
 * Whether a balancer relayed a client's connection or made the connection
 * itself: #UsherProxyInfo:command.
 *
 * Since: 0.2
 */
typedef enum
{
  USHER_PROXY_COMMAND_LOCAL = 0,
  USHER_PROXY_COMMAND_PROXY = 1,
} UsherProxyCommand;

/**
 * USHER_TYPE_PROXY_COMMAND:
 *
 * The #GType of #UsherProxyCommand.
 *
 * Since: 0.2
 */
#define USHER_TYPE_PROXY_COMMAND (usher_proxy_command_get_type ())

/**
 * usher_proxy_command_get_type:
 *
 * Gets the #GType of #UsherProxyCommand, an enumeration.
 *
 * Returns: the #GType of #UsherProxyCommand
 *
 * Since: 0.2
 */
GType usher_proxy_command_get_type (void) G_GNUC_CONST;

/**
 * UsherProxyInfo:
 *
 * What the PROXY protocol header a load balancer (HAProxy, nginx, a cloud
 * balancer) sent before a connection's data said of it: the client's original
 * address, the address it connected to, the balancer's own address, and the
 * header's TLVs.
 *
 * A service with #UsherSocketService:proxy-protocol-peers set reads the
 * header before anything else, and the connection it hands to
 * #UsherSocketService::incoming carries one of these, which
 * usher_proxy_info_get_for_connection() gives:
 *
 * |[<!-- language="C" -->
 * static gboolean
 * incoming (UsherSocketService *service, GSocketConnection *connection,
 *           GObject *source_object, gpointer user_data)
 * {
 *   UsherProxyInfo *info = usher_proxy_info_get_for_connection (connection);
 *
 *   if (info != NULL)
 *     {
 *       GInetSocketAddress *client =
 *         G_INET_SOCKET_ADDRESS (usher_proxy_info_get_source_address (info));
 *       g_autofree char *text =
 *         g_inet_address_to_string (g_inet_socket_address_get_address (client));
 *
 *       g_print ("a client at %s\n", text);
 *     }
 *   return FALSE;
 * }
 * ]|
 *
 * It is immutable, and may be read from any thread.
 *
 * Since: 0.2
 */

/**
 * USHER_TYPE_PROXY_INFO:
 *
 * The #GType of #UsherProxyInfo.
 *
 * Since: 0.2
 */
#define USHER_TYPE_PROXY_INFO (usher_proxy_info_get_type ())
G_DECLARE_FINAL_TYPE (UsherProxyInfo, usher_proxy_info, USHER, PROXY_INFO, GObject)

/**
 * UsherProxyInfo:version:
 *
 * The PROXY protocol version of the header: 1 (text) or 2 (binary).
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:command:
 *
 * Whether the balancer relayed a client's connection
 * (%USHER_PROXY_COMMAND_PROXY, every version 1 header) or opened the
 * connection itself, as for a health check (%USHER_PROXY_COMMAND_LOCAL,
 * version 2 only).
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:source-address:
 *
 * The client's address: the original source the header gives, or, for a
 * `LOCAL` header, a version 1 `UNKNOWN` line and a version 2 header without
 * TCP addresses, the socket's remote address.
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:destination-address:
 *
 * The address the client connected to: the original destination the header
 * gives, or, where it gives none, the socket's local address.
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:proxy-address:
 *
 * The address of the balancer that sent the header: the socket's remote
 * address.
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:alpn:
 *
 * The ALPN protocol the balancer negotiated with the client (TLV
 * `PP2_TYPE_ALPN`), if the header has one; %NULL otherwise.
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:authority:
 *
 * The host name the client asked for (TLV `PP2_TYPE_AUTHORITY`, the SNI under
 * TLS), if the header has one; %NULL otherwise.
 *
 * Since: 0.2
 */

/**
 * UsherProxyInfo:unique-id:
 *
 * The balancer's unique id of the connection (TLV `PP2_TYPE_UNIQUE_ID`, at
 * most 128 bytes), if the header has one; %NULL otherwise.
 *
 * Since: 0.2
 */

/**
 * usher_proxy_info_get_for_connection:
 * @connection: a connection handed out by a #UsherSocketService
 *
 * Gets what the PROXY protocol header of @connection said, if the connection
 * came from a service that read one: %NULL for a connection that came without
 * a header (from a peer not trusted to send one, or with
 * #UsherSocketService:proxy-protocol-required off), or from elsewhere.
 *
 * Returns: (transfer none) (nullable): the info, which @connection keeps, or
 *   %NULL
 *
 * Since: 0.2
 */
UsherProxyInfo *usher_proxy_info_get_for_connection (GSocketConnection *connection);

/**
 * usher_proxy_info_get_version:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:version.
 *
 * Returns: the PROXY protocol version of the header, 1 or 2
 *
 * Since: 0.2
 */
guint usher_proxy_info_get_version (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_command:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:command.
 *
 * Returns: whether the balancer relayed a client's connection or opened it
 *   itself
 *
 * Since: 0.2
 */
UsherProxyCommand usher_proxy_info_get_command (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_source_address:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:source-address.
 *
 * Returns: (transfer none): the client's address, which @info keeps
 *
 * Since: 0.2
 */
GSocketAddress *usher_proxy_info_get_source_address (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_destination_address:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:destination-address.
 *
 * Returns: (transfer none): the address the client connected to, which @info
 *   keeps
 *
 * Since: 0.2
 */
GSocketAddress *usher_proxy_info_get_destination_address (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_proxy_address:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:proxy-address.
 *
 * Returns: (transfer none): the address of the balancer that sent the header,
 *   which @info keeps
 *
 * Since: 0.2
 */
GSocketAddress *usher_proxy_info_get_proxy_address (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_alpn:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:alpn.
 *
 * Returns: (transfer none) (nullable): the ALPN protocol the balancer
 *   negotiated with the client, valid as long as @info, or %NULL
 *
 * Since: 0.2
 */
const gchar *usher_proxy_info_get_alpn (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_authority:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:authority.
 *
 * Returns: (transfer none) (nullable): the host name the client asked for,
 *   valid as long as @info, or %NULL
 *
 * Since: 0.2
 */
const gchar *usher_proxy_info_get_authority (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_unique_id:
 * @info: a #UsherProxyInfo
 *
 * Gets #UsherProxyInfo:unique-id.
 *
 * Returns: (transfer none) (nullable): the balancer's unique id of the
 *   connection, which @info keeps, or %NULL
 *
 * Since: 0.2
 */
GBytes *usher_proxy_info_get_unique_id (UsherProxyInfo *info);

/**
 * usher_proxy_info_get_tlv:
 * @info: a #UsherProxyInfo
 * @type: a TLV type: one of the `PP2_TYPE_*` of the specification, the SSL
 *   TLV `0x20`, or an application's `0xE0` to `0xEF`, among others
 *
 * Gets the value of the header's first TLV of type @type. `PP2_TYPE_NOOP`
 * padding and the `PP2_TYPE_CRC32C` checksum, which the service checked, are
 * not kept.
 *
 * Returns: (transfer none) (nullable): the TLV's value, which @info keeps, or
 *   %NULL if the header has no TLV of type @type
 *
 * Since: 0.2
 */
GBytes *usher_proxy_info_get_tlv (UsherProxyInfo *info,
                                  guint8          type);

G_END_DECLS
