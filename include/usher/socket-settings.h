/* UsherSocketSettings: the settings of a service's listening sockets.
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
 * UsherSocketSettings:
 *
 * The settings of a listening socket: whether it serves TLS and with which
 * certificate, which load balancers it trusts to send a PROXY protocol
 * header, the I/O timeout of its connections, and its TCP options
 * (keepalive, `TCP_USER_TIMEOUT`, `TCP_DEFER_ACCEPT`).
 *
 * Each setting is *set* or not. A socket given settings takes each setting
 * they set, and its service's for the others: the service's own settings
 * (#UsherSocketService:socket-settings, of which its `tls-*`,
 * `proxy-protocol-*` and `timeout` properties are views) are the default of
 * every socket; a setting set nowhere has its property's default. Setting a
 * property sets it, to %NULL too: a socket whose
 * #UsherSocketSettings:tls-certificate is set to %NULL serves plain TCP
 * whatever its service's certificate. usher_socket_settings_unset() makes the
 * socket take its service's value again.
 *
 * Settings are given when sockets are added
 * (usher_socket_service_add_inet_port_full() and the other `_full()`
 * functions), later to a socket of the service
 * (usher_socket_service_set_socket_settings()), or by name to the sockets
 * passed by systemd (usher_socket_service_set_named_socket_settings()). One
 * settings object may serve several sockets, of several services. A change,
 * from any thread, applies to the connections accepted from then on: the TCP
 * options at once to the listening sockets, whose new connections inherit
 * them; the others to each connection as it is accepted.
 *
 * |[<!-- language="C" -->
 * // One service, TLS on 8443 and plain HTTP on 8080.
 * UsherSocketService *service = usher_socket_service_new ();
 * g_autoptr(UsherSocketSettings) plain = usher_socket_settings_new ();
 *
 * usher_socket_service_set_tls_certificate (service, certificate);
 * g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), 8443, NULL, &error);
 * usher_socket_settings_set_tls_certificate (plain, NULL);
 * usher_socket_settings_set_tcp_keepalive (plain, TRUE);
 * usher_socket_service_add_inet_port_full (service, 8080, NULL, plain, &error);
 * ]|
 *
 * Since: 0.2
 */

/**
 * USHER_TYPE_SOCKET_SETTINGS:
 *
 * The #GType of #UsherSocketSettings.
 *
 * Since: 0.2
 */
#define USHER_TYPE_SOCKET_SETTINGS (usher_socket_settings_get_type ())
G_DECLARE_FINAL_TYPE (UsherSocketSettings, usher_socket_settings, USHER, SOCKET_SETTINGS, GObject)

/**
 * UsherSocketSettings:tls-certificate:
 *
 * The certificate, with its private key, the socket serves TLS with: to every
 * client, or, with #UsherSocketSettings:tls-certificate-names, to those that
 * ask for no name or for a name without a certificate of its own. Set to
 * %NULL with no names, the socket serves plain TCP whatever its service's
 * certificate; unset (the default), it takes its service's
 * #UsherSocketService:tls-certificate.
 *
 * Loaded from files with usher_socket_settings_set_tls_certificate_files(),
 * it is the certificate last loaded, and is notified at each reload; setting
 * it stops watching the files. A change, from any thread, serves the
 * handshakes that start after it; those in progress, and the connections
 * established, keep their certificate.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-certificate-file:
 *
 * The file #UsherSocketSettings:tls-certificate was loaded from, watched,
 * and reloaded from when it changes
 * (usher_socket_settings_set_tls_certificate_files()); %NULL for a
 * certificate given as an object. Part of the #UsherSocketSettings:tls-certificate
 * setting: usher_socket_settings_is_set() tells whether it is loaded from
 * files, usher_socket_settings_unset() unsets it.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-key-file:
 *
 * The file the private key of #UsherSocketSettings:tls-certificate was
 * loaded from, if not the certificate's own file.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-certificate-names:
 *
 * The server names (`a.example.org`) and wildcards (`*.example.org`, one
 * label) with a certificate of their own, in the order they were given,
 * chosen by the name a client asks for in its TLS ClientHello (SNI); a name's
 * own certificate comes before a wildcard's, and
 * #UsherSocketSettings:tls-certificate serves the others (with none, they are
 * refused). Set with usher_socket_settings_set_tls_certificate_for_name() and
 * usher_socket_settings_set_tls_certificate_files_for_name().
 *
 * The certificates go together: a socket takes #UsherSocketSettings:tls-certificate
 * and its names from the first settings that set either, its own or its
 * service's. On a socket with names, the service reads each client's
 * ClientHello before its handshake (usher_client_hello_get_for_connection()).
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings::tls-certificate-reload-failed:
 * @settings: the #UsherSocketSettings
 * @file: (type filename): the file at fault: the certificate's, or its key's
 * @error: why it was not taken: a %G_TLS_ERROR_BAD_CERTIFICATE for a
 *   half-written PEM file or a key that is not the certificate's, a
 *   %G_IO_ERROR for a file that cannot be read
 *
 * Emitted when a certificate file watched (usher_socket_settings_set_tls_certificate_files(),
 * usher_socket_settings_set_tls_certificate_files_for_name()) changed but
 * could not be loaded: the certificate loaded before goes on serving, and the
 * next change is loaded again. Emitted on the thread-default main context of
 * the thread that set the files; while no handler is connected, a warning is
 * logged instead.
 *
 * Since: 0.2
 */


/**
 * UsherSocketSettings:tls-database:
 *
 * The database client certificates are verified with; %NULL for the TLS
 * backend's default database.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-authentication-mode:
 *
 * Whether clients are asked for a certificate: %G_TLS_AUTHENTICATION_NONE
 * (the default), %G_TLS_AUTHENTICATION_REQUESTED or
 * %G_TLS_AUTHENTICATION_REQUIRED.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-advertised-protocols:
 *
 * The application protocols offered with ALPN (`"http/1.1"`, …), in order
 * of preference; empty (the default) for no ALPN.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-handshake-timeout:
 *
 * The most seconds a client may take to complete its TLS handshake; 0 for no
 * limit. The default is 10.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:proxy-protocol-peers:
 *
 * The load balancers trusted to send a PROXY protocol header on this socket:
 * IPv4 and IPv6 addresses and CIDR ranges. Empty (the default): no PROXY
 * protocol. Set through the property, an entry that is neither an address nor
 * a range logs a critical and leaves the list as it was;
 * usher_socket_settings_try_set_proxy_protocol_peers() returns the error
 * instead.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:proxy-protocol-required:
 *
 * Whether a trusted peer must send a PROXY protocol header (the default); off,
 * one that does not start with a header is served as it is.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:proxy-protocol-timeout:
 *
 * The most seconds a connection may take to send its PROXY protocol header,
 * from its accept; 0 for no limit. The default is 5.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:timeout:
 *
 * The I/O timeout, in seconds, of every accepted socket
 * (g_socket_set_timeout()); 0 (the default) for none. With TLS it applies
 * after the handshake.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-keepalive:
 *
 * Whether TCP keepalive probes are sent on idle connections (`SO_KEEPALIVE`),
 * to notice a peer that vanished. Off by default, as GLib's.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-keepalive-idle:
 *
 * The seconds a connection stays idle before the first keepalive probe
 * (`TCP_KEEPIDLE`), at most 32767; 0 (the default) for the system's (two
 * hours).
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-keepalive-interval:
 *
 * The seconds between keepalive probes (`TCP_KEEPINTVL`), at most 32767; 0
 * (the default) for the system's (75).
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-keepalive-count:
 *
 * The unanswered keepalive probes after which the connection is dropped
 * (`TCP_KEEPCNT`), at most 127; 0 (the default) for the system's (9).
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-user-timeout:
 *
 * The milliseconds written data may stay unacknowledged before the connection
 * is dropped (`TCP_USER_TIMEOUT`, RFC 5482): a peer gone while data is in
 * flight is noticed in that time rather than after some fifteen minutes of
 * retransmissions. 0 (the default) for the system's.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tcp-defer-accept:
 *
 * The most seconds the kernel holds a new connection until its client sends
 * data, before the service accepts it (`TCP_DEFER_ACCEPT`); 0 (the default)
 * for none. Only for protocols where the client speaks first (TLS, the PROXY
 * protocol, HTTP): a client that connects and sends nothing costs the service
 * nothing meanwhile.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:unix-mode:
 *
 * The permission bits (`0660`, at most `07777`) of the file of a Unix socket
 * the service makes at a path (usher_socket_service_add_address_full()), set
 * between its `bind()` and its `listen()`, before any client can connect. By
 * default, what the process's umask gives.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:unix-owner:
 *
 * The user id owning the file of a Unix socket the service makes at a path,
 * set before any client can connect (changing it takes privileges). By
 * default, the process's.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:unix-group:
 *
 * The group id of the file of a Unix socket the service makes at a path, set
 * before any client can connect. By default, the process's.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:allowed-users:
 *
 * The users who may connect, by the credentials of the peer's process
 * (`SO_PEERCRED`, read at the accept, before anything else): user ids or
 * names (`"0"`, `"root"`), names resolved when set. A peer whose user is not
 * here and whose group is not in #UsherSocketSettings:allowed-groups is
 * refused, reported with #UsherSocketService::accept-error
 * (%G_IO_ERROR_PERMISSION_DENIED, with its uid and pid), and so is every
 * connection without credentials (TCP): a policy that cannot be checked
 * fails closed. Unset, with #UsherSocketSettings:allowed-groups unset too,
 * anyone may connect. Set through the property, an entry that is neither an
 * id nor a known name logs a critical and leaves the list as it was;
 * usher_socket_settings_try_set_allowed_users() returns the error instead.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:allowed-groups:
 *
 * The groups whose members may connect, by the primary group of the peer's
 * process: group ids or names (`"0"`, `"wheel"`), as
 * #UsherSocketSettings:allowed-users takes users.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:name:
 *
 * The socket's name, as systemd names the sockets it passes
 * (`FileDescriptorName=`, `LISTEN_FDNAMES`): what it is called when the
 * service hands it to its successor (usher_socket_service_hand_over_async())
 * or stores it with systemd (usher_socket_service_store_sockets()), for the
 * next instance to know it by. As systemd has it: at most 255 printable
 * ASCII characters, spaces included, but no colon (the empty name is one); an
 * invalid name logs a critical and leaves the setting as it was. A socket passed to the process with a name (socket
 * activation, a handover) keeps that one. With no name (the default), a
 * socket goes as `"unknown"`, systemd's name for an unnamed socket.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:peer-rate:
 *
 * The new connections one peer may make a second on the socket: a token
 * bucket per IP address and socket (an IPv6 address counts with its /64
 * prefix), judged on the client behind a trusted balancer. Beyond, a
 * connection is refused at once (%USHER_REFUSAL_PEER_RATE). 0 (the default)
 * for no limit.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:peer-rate-burst:
 *
 * How many connections a peer may make at once beyond
 * #UsherSocketSettings:peer-rate, after a pause; 0 (the default) for a
 * second's worth.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:rate:
 *
 * The new connections everyone together may make a second on the socket,
 * counted for each socket apart. Beyond, a connection is refused at once
 * (%USHER_REFUSAL_RATE). 0 (the default) for no limit.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:rate-burst:
 *
 * How many connections may come at once beyond #UsherSocketSettings:rate; 0
 * (the default) for a second's worth.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-handshakes-per-peer:
 *
 * The TLS handshakes one peer may have in progress at once, counted before a
 * handshake starts, on all the service's sockets together (an IPv6 address
 * counts with its /64 prefix); beyond, the connection is refused at once,
 * never queued (%USHER_REFUSAL_HANDSHAKES_PER_PEER). 0 (the default) for no
 * limit.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:tls-handshake-rate:
 *
 * The TLS handshakes that may start a second on the socket, counted for each
 * socket apart; beyond, the connection is refused at once
 * (%USHER_REFUSAL_HANDSHAKE_RATE). 0 (the default) for no limit.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:allowed-peers:
 *
 * The only peers let in, IP addresses and CIDR ranges, judged on the client
 * behind a trusted balancer; unset (the default), everyone. A connection from
 * elsewhere is refused at once (%USHER_REFUSAL_DENIED). Connections without
 * an IP address (Unix-domain) are not judged by it.
 *
 * Since: 0.2
 */

/**
 * UsherSocketSettings:denied-peers:
 *
 * Peers refused at once (%USHER_REFUSAL_DENIED), IP addresses and CIDR
 * ranges, judged on the client behind a trusted balancer; empty (the
 * default), none.
 *
 * Since: 0.2
 */

/**
 * usher_socket_settings_new:
 *
 * Creates settings that set nothing: a socket given them takes its service's
 * settings until some are set.
 *
 * Returns: (transfer full): new #UsherSocketSettings
 *
 * Since: 0.2
 */
UsherSocketSettings *usher_socket_settings_new (void);

/**
 * usher_socket_settings_is_set:
 * @settings: a #UsherSocketSettings
 * @name: the name of a setting's property, such as `"tls-certificate"`
 *
 * Gets whether the setting @name is set. A name that is no setting's logs a
 * critical.
 *
 * Returns: %TRUE if the setting is set
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_is_set (UsherSocketSettings *settings,
                                       const char          *name);

/**
 * usher_socket_settings_unset:
 * @settings: a #UsherSocketSettings
 * @name: the name of a setting's property, such as `"tls-certificate"`
 *
 * Unsets the setting @name: a socket given @settings takes its service's
 * value again. A name that is no setting's logs a critical.
 *
 * Since: 0.2
 */
void usher_socket_settings_unset (UsherSocketSettings *settings,
                                  const char          *name);

/**
 * usher_socket_settings_try_set_proxy_protocol_peers:
 * @settings: a #UsherSocketSettings
 * @peers: (nullable) (array zero-terminated=1): addresses and CIDR ranges of
 *   the balancers trusted to send a PROXY protocol header, or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketSettings:proxy-protocol-peers, or fails with
 * %G_IO_ERROR_INVALID_ARGUMENT saying which entry is neither an address nor a
 * range, and leaves the setting as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_try_set_proxy_protocol_peers (UsherSocketSettings  *settings,
                                                             const gchar * const  *peers,
                                                             GError              **error);

/**
 * usher_socket_settings_get_for_connection:
 * @connection: a #GSocketConnection
 *
 * Gets the settings in force for the listening socket @connection came
 * through, if a #UsherSocketService handed it out: those the socket was
 * given, or, for a socket given none, its service's
 * (#UsherSocketService:socket-settings).
 *
 * Returns: (transfer none) (nullable): the settings, or %NULL for a
 *   connection no service handed out
 *
 * Since: 0.2
 */
UsherSocketSettings *usher_socket_settings_get_for_connection (GSocketConnection *connection);

/**
 * usher_socket_settings_get_tls_certificate:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-certificate: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable): a reference to the certificate (another
 *   thread, or the reload of its files, may change it), to be released with
 *   g_object_unref(), or %NULL for plain TCP or when unset
 *
 * Since: 0.2
 */
GTlsCertificate *usher_socket_settings_get_tls_certificate (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_certificate:
 * @settings: a #UsherSocketSettings
 * @value: (nullable): the value
 *
 * Sets #UsherSocketSettings:tls-certificate.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_certificate (UsherSocketSettings *settings,
                                                GTlsCertificate *value);

/**
 * usher_socket_settings_get_tls_database:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-database: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable): a reference to the database, to be
 *   released with g_object_unref(), or %NULL
 *
 * Since: 0.2
 */
GTlsDatabase *usher_socket_settings_get_tls_database (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_database:
 * @settings: a #UsherSocketSettings
 * @value: (nullable): the value
 *
 * Sets #UsherSocketSettings:tls-database.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_database (UsherSocketSettings *settings,
                                             GTlsDatabase *value);

/**
 * usher_socket_settings_get_tls_authentication_mode:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-authentication-mode: its value if it is set, else its default.
 *
 * Returns: the authentication mode
 *
 * Since: 0.2
 */
GTlsAuthenticationMode usher_socket_settings_get_tls_authentication_mode (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_authentication_mode:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tls-authentication-mode.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_authentication_mode (UsherSocketSettings *settings,
                                                        GTlsAuthenticationMode value);

/**
 * usher_socket_settings_get_tls_advertised_protocols:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-advertised-protocols: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the protocols, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_tls_advertised_protocols (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_advertised_protocols:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:tls-advertised-protocols.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_advertised_protocols (UsherSocketSettings *settings,
                                                         const gchar * const *value);

/**
 * usher_socket_settings_get_tls_handshake_timeout:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-handshake-timeout: its value if it is set, else its default.
 *
 * Returns: the timeout, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tls_handshake_timeout (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_handshake_timeout:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tls-handshake-timeout.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_handshake_timeout (UsherSocketSettings *settings,
                                                      guint value);

/**
 * usher_socket_settings_get_proxy_protocol_peers:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:proxy-protocol-peers: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the peers, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_proxy_protocol_peers (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_proxy_protocol_peers:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:proxy-protocol-peers.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_proxy_protocol_peers (UsherSocketSettings *settings,
                                                     const gchar * const *value);

/**
 * usher_socket_settings_get_proxy_protocol_required:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:proxy-protocol-required: its value if it is set, else its default.
 *
 * Returns: whether a header is required
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_get_proxy_protocol_required (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_proxy_protocol_required:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:proxy-protocol-required.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_proxy_protocol_required (UsherSocketSettings *settings,
                                                        gboolean value);

/**
 * usher_socket_settings_get_proxy_protocol_timeout:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:proxy-protocol-timeout: its value if it is set, else its default.
 *
 * Returns: the timeout, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_proxy_protocol_timeout (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_proxy_protocol_timeout:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:proxy-protocol-timeout.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_proxy_protocol_timeout (UsherSocketSettings *settings,
                                                       guint value);

/**
 * usher_socket_settings_get_timeout:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:timeout: its value if it is set, else its default.
 *
 * Returns: the timeout, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_timeout (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_timeout:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:timeout.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_timeout (UsherSocketSettings *settings,
                                        guint value);

/**
 * usher_socket_settings_get_tcp_keepalive:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-keepalive: its value if it is set, else its default.
 *
 * Returns: whether keepalive probes are sent
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_get_tcp_keepalive (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_keepalive:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-keepalive.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_keepalive (UsherSocketSettings *settings,
                                              gboolean value);

/**
 * usher_socket_settings_get_tcp_keepalive_idle:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-keepalive-idle: its value if it is set, else its default.
 *
 * Returns: the idle time, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tcp_keepalive_idle (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_keepalive_idle:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-keepalive-idle.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_keepalive_idle (UsherSocketSettings *settings,
                                                   guint value);

/**
 * usher_socket_settings_get_tcp_keepalive_interval:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-keepalive-interval: its value if it is set, else its default.
 *
 * Returns: the interval, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tcp_keepalive_interval (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_keepalive_interval:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-keepalive-interval.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_keepalive_interval (UsherSocketSettings *settings,
                                                       guint value);

/**
 * usher_socket_settings_get_tcp_keepalive_count:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-keepalive-count: its value if it is set, else its default.
 *
 * Returns: the count
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tcp_keepalive_count (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_keepalive_count:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-keepalive-count.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_keepalive_count (UsherSocketSettings *settings,
                                                    guint value);

/**
 * usher_socket_settings_get_tcp_user_timeout:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-user-timeout: its value if it is set, else its default.
 *
 * Returns: the timeout, in milliseconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tcp_user_timeout (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_user_timeout:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-user-timeout.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_user_timeout (UsherSocketSettings *settings,
                                                 guint value);

/**
 * usher_socket_settings_get_tcp_defer_accept:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tcp-defer-accept: its value if it is set, else its default.
 *
 * Returns: the time, in seconds
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tcp_defer_accept (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tcp_defer_accept:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tcp-defer-accept.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tcp_defer_accept (UsherSocketSettings *settings,
                                                 guint value);

/**
 * usher_socket_settings_get_unix_mode:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:unix-mode: its value if it is set, else its default.
 *
 * Returns: the permission bits
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_unix_mode (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_unix_mode:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:unix-mode.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_unix_mode (UsherSocketSettings *settings,
                                          guint value);

/**
 * usher_socket_settings_get_unix_owner:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:unix-owner: its value if it is set, else its default.
 *
 * Returns: the user id
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_unix_owner (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_unix_owner:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:unix-owner.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_unix_owner (UsherSocketSettings *settings,
                                           guint value);

/**
 * usher_socket_settings_get_unix_group:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:unix-group: its value if it is set, else its default.
 *
 * Returns: the group id
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_unix_group (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_unix_group:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:unix-group.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_unix_group (UsherSocketSettings *settings,
                                           guint value);

/**
 * usher_socket_settings_get_allowed_users:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:allowed-users: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the user ids, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_allowed_users (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_allowed_users:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:allowed-users.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_allowed_users (UsherSocketSettings *settings,
                                              const gchar * const *value);

/**
 * usher_socket_settings_get_allowed_groups:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:allowed-groups: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the group ids, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_allowed_groups (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_allowed_groups:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:allowed-groups.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_allowed_groups (UsherSocketSettings *settings,
                                               const gchar * const *value);

/**
 * usher_socket_settings_get_name:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:name: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable): the name, or %NULL for none; free with
 *   g_free()
 *
 * Since: 0.2
 */
gchar *usher_socket_settings_get_name (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_name:
 * @settings: a #UsherSocketSettings
 * @value: (nullable): the name, or %NULL for none
 *
 * Sets #UsherSocketSettings:name.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_name (UsherSocketSettings *settings,
                                     const gchar         *value);

/**
 * usher_socket_settings_try_set_allowed_users:
 * @settings: a #UsherSocketSettings
 * @users: (nullable) (array zero-terminated=1): ids and names, or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketSettings:allowed-users, or fails with %G_IO_ERROR_INVALID_ARGUMENT
 * saying which entry is neither an id nor a known name, and leaves the setting
 * as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_try_set_allowed_users (UsherSocketSettings  *settings,
                                                      const gchar * const  *users,
                                                      GError              **error);

/**
 * usher_socket_settings_try_set_allowed_groups:
 * @settings: a #UsherSocketSettings
 * @groups: (nullable) (array zero-terminated=1): ids and names, or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketSettings:allowed-groups, or fails with %G_IO_ERROR_INVALID_ARGUMENT
 * saying which entry is neither an id nor a known name, and leaves the setting
 * as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_try_set_allowed_groups (UsherSocketSettings  *settings,
                                                       const gchar * const  *groups,
                                                       GError              **error);

/**
 * usher_socket_settings_get_peer_rate:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:peer-rate: its value if it is set, else its default.
 *
 * Returns: the rate, in connections a second
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_peer_rate (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_peer_rate:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:peer-rate.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_peer_rate (UsherSocketSettings *settings,
                                          guint value);

/**
 * usher_socket_settings_get_peer_rate_burst:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:peer-rate-burst: its value if it is set, else its default.
 *
 * Returns: the burst
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_peer_rate_burst (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_peer_rate_burst:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:peer-rate-burst.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_peer_rate_burst (UsherSocketSettings *settings,
                                                guint value);

/**
 * usher_socket_settings_get_rate:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:rate: its value if it is set, else its default.
 *
 * Returns: the rate, in connections a second
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_rate (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_rate:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:rate.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_rate (UsherSocketSettings *settings,
                                     guint value);

/**
 * usher_socket_settings_get_rate_burst:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:rate-burst: its value if it is set, else its default.
 *
 * Returns: the burst
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_rate_burst (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_rate_burst:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:rate-burst.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_rate_burst (UsherSocketSettings *settings,
                                           guint value);

/**
 * usher_socket_settings_get_tls_handshakes_per_peer:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-handshakes-per-peer: its value if it is set, else its default.
 *
 * Returns: the most handshakes
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tls_handshakes_per_peer (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_handshakes_per_peer:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tls-handshakes-per-peer.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_handshakes_per_peer (UsherSocketSettings *settings,
                                                        guint value);

/**
 * usher_socket_settings_get_tls_handshake_rate:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-handshake-rate: its value if it is set, else its default.
 *
 * Returns: the rate, in handshakes a second
 *
 * Since: 0.2
 */
guint usher_socket_settings_get_tls_handshake_rate (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_tls_handshake_rate:
 * @settings: a #UsherSocketSettings
 * @value: the value
 *
 * Sets #UsherSocketSettings:tls-handshake-rate.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_tls_handshake_rate (UsherSocketSettings *settings,
                                                   guint value);

/**
 * usher_socket_settings_get_allowed_peers:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:allowed-peers: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the addresses and ranges, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_allowed_peers (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_allowed_peers:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:allowed-peers.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_allowed_peers (UsherSocketSettings *settings,
                                              const gchar * const *value);

/**
 * usher_socket_settings_get_denied_peers:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:denied-peers: its value if it is set, else its default.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the addresses and ranges, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_denied_peers (UsherSocketSettings *settings);

/**
 * usher_socket_settings_set_denied_peers:
 * @settings: a #UsherSocketSettings
 * @value: (nullable) (array zero-terminated=1): the value
 *
 * Sets #UsherSocketSettings:denied-peers.
 *
 * Since: 0.2
 */
void usher_socket_settings_set_denied_peers (UsherSocketSettings *settings,
                                             const gchar * const *value);

/**
 * usher_socket_settings_try_set_allowed_peers:
 * @settings: a #UsherSocketSettings
 * @peers: (nullable) (array zero-terminated=1): addresses and CIDR ranges, or
 *   %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketSettings:allowed-peers, or fails with %G_IO_ERROR_INVALID_ARGUMENT
 * saying which entry is neither an address nor a range, and leaves the
 * setting as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_try_set_allowed_peers (UsherSocketSettings  *settings,
                                                      const gchar * const  *peers,
                                                      GError              **error);

/**
 * usher_socket_settings_try_set_denied_peers:
 * @settings: a #UsherSocketSettings
 * @peers: (nullable) (array zero-terminated=1): addresses and CIDR ranges, or
 *   %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * Sets #UsherSocketSettings:denied-peers, or fails with %G_IO_ERROR_INVALID_ARGUMENT
 * saying which entry is neither an address nor a range, and leaves the
 * setting as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_try_set_denied_peers (UsherSocketSettings  *settings,
                                                     const gchar * const  *peers,
                                                     GError              **error);

/**
 * usher_socket_settings_set_tls_certificate_files:
 * @settings: a #UsherSocketSettings
 * @certificate_file: (type filename): a PEM file with the certificate (and its
 *   chain), and its private key if @key_file is %NULL
 * @key_file: (type filename) (nullable): a PEM file with the private key, or
 *   %NULL for the key in @certificate_file
 * @error: return location for a #GError, or %NULL
 *
 * Loads #UsherSocketSettings:tls-certificate from files, and watches them
 * from now on: when they change (rewritten, or replaced by a rename, as
 * certificate tools do), the certificate is loaded again and serves the
 * handshakes that start after that. A certificate is taken only once it loaded
 * completely and its key matches it: a half-written, unreadable or mismatched
 * file leaves the certificate loaded before serving, and is reported with
 * #UsherSocketSettings::tls-certificate-reload-failed; the next good write is
 * taken. Write a new certificate elsewhere and rename it into place, the key
 * with it in one file, for a change that is never seen half-done.
 *
 * Fails, and changes nothing, if the files do not make a certificate now. The
 * files are watched on the thread-default main context of the calling thread,
 * which must run. Setting #UsherSocketSettings:tls-certificate stops watching
 * them.
 *
 * Returns: %TRUE if the certificate was loaded
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_set_tls_certificate_files (UsherSocketSettings  *settings,
                                                          const char           *certificate_file,
                                                          const char           *key_file,
                                                          GError              **error);

/**
 * usher_socket_settings_set_tls_certificate_for_name:
 * @settings: a #UsherSocketSettings
 * @name: a server name (`a.example.org`) or a wildcard (`*.example.org`: one
 *   label before `example.org`); an IDN as its A-label (`xn--…`)
 * @certificate: (nullable): the certificate, with its private key, or %NULL
 *   to take the name's certificate away
 * @error: return location for a #GError, or %NULL
 *
 * Serves @certificate to the clients that ask for @name, or for a name @name
 * matches, in their TLS ClientHello (SNI): see
 * #UsherSocketSettings:tls-certificate-names. Fails with
 * %G_IO_ERROR_INVALID_ARGUMENT for a @name that is neither a server name nor
 * a wildcard.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_set_tls_certificate_for_name (UsherSocketSettings  *settings,
                                                             const gchar          *name,
                                                             GTlsCertificate      *certificate,
                                                             GError              **error);

/**
 * usher_socket_settings_set_tls_certificate_files_for_name:
 * @settings: a #UsherSocketSettings
 * @name: a server name or a wildcard, as
 *   usher_socket_settings_set_tls_certificate_for_name() takes
 * @certificate_file: (type filename): a PEM file with the certificate, and its
 *   private key if @key_file is %NULL
 * @key_file: (type filename) (nullable): a PEM file with the private key
 * @error: return location for a #GError, or %NULL
 *
 * Serves the certificate in @certificate_file to the clients that ask for
 * @name, and watches its files as
 * usher_socket_settings_set_tls_certificate_files() does.
 *
 * Returns: %TRUE if the certificate was loaded
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_set_tls_certificate_files_for_name (UsherSocketSettings  *settings,
                                                                   const gchar          *name,
                                                                   const char           *certificate_file,
                                                                   const char           *key_file,
                                                                   GError              **error);

/**
 * usher_socket_settings_get_tls_certificate_for_name:
 * @settings: a #UsherSocketSettings
 * @server_name: (nullable): the server name a client asks for, or %NULL for
 *   a client that asks for none
 *
 * Gets the certificate @settings serve a client that asks for @server_name:
 * the name's own, else a matching wildcard's, else
 * #UsherSocketSettings:tls-certificate.
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL for none
 *
 * Since: 0.2
 */
GTlsCertificate *usher_socket_settings_get_tls_certificate_for_name (UsherSocketSettings *settings,
                                                                     const gchar         *server_name);

/**
 * usher_socket_settings_reload_tls_certificates:
 * @settings: a #UsherSocketSettings
 * @error: return location for a #GError, or %NULL
 *
 * Loads every certificate @settings load from files again now, as a change of
 * the files would: each that loads serves the handshakes that start after
 * that; one that does not leaves the certificate loaded before, and the first
 * error is returned (not emitted with
 * #UsherSocketSettings::tls-certificate-reload-failed).
 *
 * Returns: %TRUE if every certificate loaded
 *
 * Since: 0.2
 */
gboolean usher_socket_settings_reload_tls_certificates (UsherSocketSettings  *settings,
                                                        GError              **error);

/**
 * usher_socket_settings_get_tls_certificate_file:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-certificate-file.
 *
 * Returns: (transfer full) (nullable) (type filename): the file, or %NULL
 *
 * Since: 0.2
 */
char *usher_socket_settings_get_tls_certificate_file (UsherSocketSettings *settings);

/**
 * usher_socket_settings_get_tls_key_file:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-key-file.
 *
 * Returns: (transfer full) (nullable) (type filename): the file, or %NULL
 *
 * Since: 0.2
 */
char *usher_socket_settings_get_tls_key_file (UsherSocketSettings *settings);

/**
 * usher_socket_settings_get_tls_certificate_names:
 * @settings: a #UsherSocketSettings
 *
 * Gets #UsherSocketSettings:tls-certificate-names.
 *
 * Returns: (transfer full) (nullable) (array zero-terminated=1): the names and
 *   wildcards, or %NULL for none; free with g_strfreev()
 *
 * Since: 0.2
 */
gchar **usher_socket_settings_get_tls_certificate_names (UsherSocketSettings *settings);

G_END_DECLS
