/* What the C tests share. */

#pragma once

#include <usher/usher.h>

/* Listens on 127.0.0.1 with an ephemeral port, tagged with source_object; returns the port. */
static inline guint16
listen_loopback (GSocketListener *listener, GObject *source_object)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;

  g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 source_object, &effective, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
}

/* Listens on 127.0.0.1 with an ephemeral port, with @settings; returns the port. */
static inline guint16
listen_with (UsherSocketService *service, UsherSocketSettings *settings)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;

  g_assert_true (usher_socket_service_add_address_full (service, any_port, G_SOCKET_TYPE_STREAM,
                                                        G_SOCKET_PROTOCOL_TCP, NULL, settings,
                                                        &effective, &error));
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
}
