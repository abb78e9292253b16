/* UsherRefusal: why a service refused a connection, or held new ones back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (__USHER_H_INSIDE__) && !defined (USHER_COMPILATION)
#error "Only <usher/usher.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * UsherRefusal:
 * @USHER_REFUSAL_PEER_RATE: the peer came back faster than its socket's
 *   #UsherSocketSettings:peer-rate
 * @USHER_REFUSAL_RATE: connections came faster than the socket's
 *   #UsherSocketSettings:rate
 * @USHER_REFUSAL_HANDSHAKES_PER_PEER: the peer had
 *   #UsherSocketSettings:tls-handshakes-per-peer TLS handshakes in progress
 *   already
 * @USHER_REFUSAL_HANDSHAKE_RATE: TLS handshakes started faster than the
 *   socket's #UsherSocketSettings:tls-handshake-rate
 * @USHER_REFUSAL_DENIED: the peer's address is in
 *   #UsherSocketSettings:denied-peers, or not in
 *   #UsherSocketSettings:allowed-peers
 * @USHER_REFUSAL_PEER_CAP: the peer had
 *   #UsherSocketService:max-connections-per-peer connections already
 * @USHER_REFUSAL_CREDENTIALS: the peer's process credentials were refused
 *   (#UsherSocketSettings:allowed-users, #UsherSocketSettings:allowed-groups,
 *   #UsherSocketService::accept-credentials)
 * @USHER_REFUSAL_PROXY_HEADER: a PROXY protocol header was bad, missing, or
 *   from a peer not trusted to send one
 * @USHER_REFUSAL_PROXY_TIMEOUT: a PROXY protocol header took longer than
 *   #UsherSocketSettings:proxy-protocol-timeout
 * @USHER_REFUSAL_TLS: the TLS handshake failed
 * @USHER_REFUSAL_TLS_TIMEOUT: the TLS handshake took longer than
 *   #UsherSocketSettings:tls-handshake-timeout
 * @USHER_REFUSAL_MAX_CONNECTIONS: not a refusal: accepting paused at
 *   #UsherSocketService:max-connections
 * @USHER_REFUSAL_OVERLOAD: not a refusal: accepting paused while the system
 *   is short of memory or the process of descriptors
 *   (#UsherSocketService:overloaded)
 *
 * Why a service refused a connection after its accept (reported with
 * #UsherSocketService::refused and #UsherSocketService::accept-error, and
 * counted: usher_socket_service_get_n_refused()), or, for
 * %USHER_REFUSAL_MAX_CONNECTIONS and %USHER_REFUSAL_OVERLOAD, why it paused
 * accepting (counted once per pause; the clients wait in the kernel's
 * backlog, nobody is refused).
 *
 * Since: 0.2
 */
typedef enum
{
  USHER_REFUSAL_PEER_RATE = 0,
  USHER_REFUSAL_RATE = 1,
  USHER_REFUSAL_HANDSHAKES_PER_PEER = 2,
  USHER_REFUSAL_HANDSHAKE_RATE = 3,
  USHER_REFUSAL_DENIED = 4,
  USHER_REFUSAL_PEER_CAP = 5,
  USHER_REFUSAL_CREDENTIALS = 6,
  USHER_REFUSAL_PROXY_HEADER = 7,
  USHER_REFUSAL_PROXY_TIMEOUT = 8,
  USHER_REFUSAL_TLS = 9,
  USHER_REFUSAL_TLS_TIMEOUT = 10,
  USHER_REFUSAL_MAX_CONNECTIONS = 11,
  USHER_REFUSAL_OVERLOAD = 12,
} UsherRefusal;

/**
 * USHER_TYPE_REFUSAL:
 *
 * The #GType of #UsherRefusal.
 *
 * Since: 0.2
 */
#define USHER_TYPE_REFUSAL (usher_refusal_get_type ())

/**
 * usher_refusal_get_type:
 *
 * Gets the #GType of #UsherRefusal, an enumeration.
 *
 * Returns: the #GType of #UsherRefusal
 *
 * Since: 0.2
 */
GType usher_refusal_get_type (void) G_GNUC_CONST;

G_END_DECLS
