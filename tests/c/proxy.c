/* The PROXY protocol from C: the proxy-protocol-* accessors and their notifications, v1 and v2
 * headers written by clients on loopback and what UsherProxyInfo says of them, a forged header
 * from an untrusted address, the per-peer cap counting the clients a header names, and misuse
 * of the new functions. */

#include <string.h>

#include "loopback.h"
#include "wait.h"

/* The PROXY protocol v2 signature, followed by the version and command byte. */
static const guint8 v2_signature[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A service that trusts 127.0.0.1 to send a header, keeps every connection it hands out in
 * held and every refusal in *error; returns its port. */
static guint16
serve_proxied (UsherSocketService *service, GPtrArray *held, GError **error)
{
  const char *peers[] = { "127.0.0.1", NULL };
  g_autoptr(GError) failure = NULL;

  g_assert_true (usher_socket_service_try_set_proxy_protocol_peers (service, peers, &failure));
  g_assert_no_error (failure);
  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (record_error), error);
  return listen_loopback (G_SOCKET_LISTENER (service), NULL);
}

/* Connects from @local to 127.0.0.1:@port and writes @bytes; returns the client's connection,
 * for the caller to keep open as long as the server needs it. */
static GSocketConnection *
send_from (const char *local, guint16 port, const void *bytes, gsize size)
{
  GSocketConnection *client = NULL;
  g_autoptr(GError) error = NULL;

  connect_from (local, port, connected_into, &client);
  WAIT_UNTIL (client != NULL);
  /* A few bytes to a new connection do not block. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (client)), bytes, size,
                             NULL, NULL, &error);
  g_assert_no_error (error);
  return client;
}

static void
line_read (GObject *lines, GAsyncResult *result, gpointer line)
{
  g_autoptr(GError) error = NULL;

  *(char **) line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (lines),
                                                                result, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*(char **) line);
}

/* The first line @connection reads, from the main loop. */
static char *
read_line (GSocketConnection *connection)
{
  g_autoptr(GDataInputStream) lines =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  char *line = NULL;

  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, line_read, &line);
  WAIT_UNTIL (line != NULL);
  return line;
}

/* "IP:PORT" of an inet socket address. */
static char *
address_text (GSocketAddress *address)
{
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (address));
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
}

static void
assert_address (GSocketAddress *address, const char *expected)
{
  g_autofree char *text = address_text (address);

  g_assert_cmpstr (text, ==, expected);
}

static void
assert_bytes (GBytes *bytes, const char *expected)
{
  gsize size = 0;
  const void *data = NULL;

  g_assert_nonnull (bytes);
  data = g_bytes_get_data (bytes, &size);
  g_assert_cmpmem (data, size, expected, strlen (expected));
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* The accessors read back what was set, notify only a change, and agree with g_object_get();
 * an invalid entry is an error from try_set and a critical from the setter, and changes
 * nothing. */
static void
test_accessors (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  const char *peers[] = { "127.0.0.1", "10.0.0.0/8", "fd00::/8", NULL };
  const char *invalid[] = { "192.0.2.1", "10.1.2.3/8", NULL };
  const char *other[] = { "192.0.2.1", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) read_back = NULL;
  g_auto(GStrv) property = NULL;
  guint notified_peers = 0, notified_required = 0, notified_timeout = 0;
  gboolean required = FALSE;
  guint timeout = 0;

  g_assert_null (usher_socket_service_get_proxy_protocol_peers (service));
  g_assert_true (usher_socket_service_get_proxy_protocol_required (service));
  g_assert_cmpuint (usher_socket_service_get_proxy_protocol_timeout (service), ==, 5);
  g_signal_connect (service, "notify::proxy-protocol-peers", G_CALLBACK (count_notify),
                    &notified_peers);
  g_signal_connect (service, "notify::proxy-protocol-required", G_CALLBACK (count_notify),
                    &notified_required);
  g_signal_connect (service, "notify::proxy-protocol-timeout", G_CALLBACK (count_notify),
                    &notified_timeout);

  g_assert_true (usher_socket_service_try_set_proxy_protocol_peers (service, peers, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified_peers, ==, 1);
  read_back = usher_socket_service_get_proxy_protocol_peers (service);
  g_assert_cmpstrv (read_back, peers);
  g_object_get (service, "proxy-protocol-peers", &property, NULL);
  g_assert_cmpstrv (property, peers);
  g_assert_true (usher_socket_service_try_set_proxy_protocol_peers (service, peers, &error));
  g_assert_cmpuint (notified_peers, ==, 1);

  g_assert_false (usher_socket_service_try_set_proxy_protocol_peers (service, invalid, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.1.2.3/8"));
  g_clear_error (&error);
  g_clear_pointer (&read_back, g_strfreev);
  read_back = usher_socket_service_get_proxy_protocol_peers (service);
  g_assert_cmpstrv (read_back, peers);
  /* Without a GError, the failure is only the return value. */
  g_assert_false (usher_socket_service_try_set_proxy_protocol_peers (service, invalid, NULL));

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*proxy-protocol-peers*10.1.2.3/8*");
  usher_socket_service_set_proxy_protocol_peers (service, invalid);
  g_test_assert_expected_messages ();
  g_clear_pointer (&read_back, g_strfreev);
  read_back = usher_socket_service_get_proxy_protocol_peers (service);
  g_assert_cmpstrv (read_back, peers);
  g_assert_cmpuint (notified_peers, ==, 1);

  usher_socket_service_set_proxy_protocol_peers (service, other);
  g_clear_pointer (&read_back, g_strfreev);
  read_back = usher_socket_service_get_proxy_protocol_peers (service);
  g_assert_cmpstrv (read_back, other);
  g_assert_cmpuint (notified_peers, ==, 2);
  usher_socket_service_set_proxy_protocol_peers (service, NULL);
  g_assert_null (usher_socket_service_get_proxy_protocol_peers (service));
  g_assert_cmpuint (notified_peers, ==, 3);
  g_assert_true (usher_socket_service_try_set_proxy_protocol_peers (service, NULL, &error));
  g_assert_cmpuint (notified_peers, ==, 3);

  usher_socket_service_set_proxy_protocol_required (service, FALSE);
  usher_socket_service_set_proxy_protocol_required (service, FALSE);
  g_assert_false (usher_socket_service_get_proxy_protocol_required (service));
  g_object_get (service, "proxy-protocol-required", &required, NULL);
  g_assert_false (required);
  g_assert_cmpuint (notified_required, ==, 1);

  usher_socket_service_set_proxy_protocol_timeout (service, 0);
  usher_socket_service_set_proxy_protocol_timeout (service, 0);
  g_assert_cmpuint (usher_socket_service_get_proxy_protocol_timeout (service), ==, 0);
  g_object_set (service, "proxy-protocol-timeout", 7, NULL);
  g_object_get (service, "proxy-protocol-timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 7);
  g_assert_cmpuint (notified_timeout, ==, 2);
  g_assert_cmpuint (notified_peers, ==, 3);
  g_assert_cmpuint (notified_required, ==, 1);
}

/* A v1 line gives the client's addresses, the balancer's own, no TLVs, and leaves the data
 * after it to the application. */
static void
test_v1_header (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  static const char header[] = "PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nhello\n";
  guint16 port = serve_proxied (service, held, &error);
  g_autoptr(GSocketConnection) client = send_from ("127.0.0.1", port, header, strlen (header));

  WAIT_UNTIL (held->len == 1);
  UsherProxyInfo *info = usher_proxy_info_get_for_connection (held->pdata[0]);
  g_assert_true (USHER_IS_PROXY_INFO (info));
  g_assert_cmpuint (usher_proxy_info_get_version (info), ==, 1);
  g_assert_cmpint (usher_proxy_info_get_command (info), ==, USHER_PROXY_COMMAND_PROXY);
  assert_address (usher_proxy_info_get_source_address (info), "192.0.2.9:5555");
  assert_address (usher_proxy_info_get_destination_address (info), "192.0.2.1:80");
  g_autofree char *proxy = address_text (usher_proxy_info_get_proxy_address (info));
  g_assert_true (g_str_has_prefix (proxy, "127.0.0.1:"));
  g_assert_null (usher_proxy_info_get_alpn (info));
  g_assert_null (usher_proxy_info_get_authority (info));
  g_assert_null (usher_proxy_info_get_unique_id (info));
  g_assert_null (usher_proxy_info_get_tlv (info, 0x01));

  g_autofree char *line = read_line (held->pdata[0]);
  g_assert_cmpstr (line, ==, "hello");
  g_assert_no_error (error);
}

static void
append_tlv (GByteArray *header, guint8 type, const char *value)
{
  guint16 length = GUINT16_TO_BE (strlen (value));

  g_byte_array_append (header, &type, 1);
  g_byte_array_append (header, (const guint8 *) &length, 2);
  g_byte_array_append (header, (const guint8 *) value, strlen (value));
}

/* A v2 header with TLVs gives its addresses, the text TLVs as strings that live as long as the
 * info, the unique id and any TLV as bytes, and leaves the data after it. */
static void
test_v2_header (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  guint16 port = serve_proxied (service, held, &error);
  /* TCP over IPv4: 198.51.100.7:40000 to 203.0.113.1:443. */
  static const guint8 addresses[] = { 198, 51, 100, 7, 203, 0, 113, 1, 0x9c, 0x40, 0x01, 0xbb };
  static const guint8 proxy_tcp4[] = { 0x21, 0x11 };
  g_autoptr(GByteArray) rest = g_byte_array_new ();
  g_autoptr(GByteArray) header = g_byte_array_new ();

  g_byte_array_append (rest, addresses, sizeof addresses);
  append_tlv (rest, 0x01, "h2");
  append_tlv (rest, 0x02, "app.example");
  append_tlv (rest, 0x05, "id-42");
  append_tlv (rest, 0xe1, "app");
  guint16 length = GUINT16_TO_BE (rest->len);
  g_byte_array_append (header, v2_signature, sizeof v2_signature);
  g_byte_array_append (header, proxy_tcp4, sizeof proxy_tcp4);
  g_byte_array_append (header, (const guint8 *) &length, 2);
  g_byte_array_append (header, rest->data, rest->len);
  g_byte_array_append (header, (const guint8 *) "hello v2\n", 9);
  g_autoptr(GSocketConnection) client = send_from ("127.0.0.1", port, header->data, header->len);

  WAIT_UNTIL (held->len == 1);
  UsherProxyInfo *info = usher_proxy_info_get_for_connection (held->pdata[0]);
  g_assert_true (USHER_IS_PROXY_INFO (info));
  g_assert_cmpuint (usher_proxy_info_get_version (info), ==, 2);
  g_assert_cmpint (usher_proxy_info_get_command (info), ==, USHER_PROXY_COMMAND_PROXY);
  assert_address (usher_proxy_info_get_source_address (info), "198.51.100.7:40000");
  assert_address (usher_proxy_info_get_destination_address (info), "203.0.113.1:443");
  const char *alpn = usher_proxy_info_get_alpn (info);
  g_assert_cmpstr (alpn, ==, "h2");
  /* The same string each time: the info keeps it. */
  g_assert_true (usher_proxy_info_get_alpn (info) == alpn);
  g_assert_cmpstr (usher_proxy_info_get_authority (info), ==, "app.example");
  assert_bytes (usher_proxy_info_get_unique_id (info), "id-42");
  assert_bytes (usher_proxy_info_get_tlv (info, 0xe1), "app");
  assert_bytes (usher_proxy_info_get_tlv (info, 0x02), "app.example");
  g_assert_null (usher_proxy_info_get_tlv (info, 0xe2));

  /* The properties say the same. */
  guint version = 0;
  UsherProxyCommand command = USHER_PROXY_COMMAND_LOCAL;
  g_autofree char *authority = NULL;
  g_autoptr(GBytes) unique_id = NULL;
  g_autoptr(GSocketAddress) source = NULL;
  g_object_get (info, "version", &version, "command", &command, "authority", &authority,
                "unique-id", &unique_id, "source-address", &source, NULL);
  g_assert_cmpuint (version, ==, 2);
  g_assert_cmpint (command, ==, USHER_PROXY_COMMAND_PROXY);
  g_assert_cmpstr (authority, ==, "app.example");
  assert_bytes (unique_id, "id-42");
  g_assert_true (source == usher_proxy_info_get_source_address (info));

  g_autofree char *line = read_line (held->pdata[0]);
  g_assert_cmpstr (line, ==, "hello v2");
  g_assert_no_error (error);
}

/* A header from an address not in proxy-protocol-peers is forged: it is refused with
 * G_IO_ERROR_PERMISSION_DENIED, and nothing is handed out. */
static void
test_forged_header (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  const char *peers[] = { "127.0.0.1", NULL };
  g_autoptr(GError) error = NULL;
  static const char forged[] = "PROXY TCP4 6.6.6.6 192.0.2.1 666 80\r\nhello\n";

  usher_socket_service_set_proxy_protocol_peers (service, peers);
  g_signal_connect (service, "incoming", G_CALLBACK (never_incoming), NULL);
  g_signal_connect (service, "accept-error", G_CALLBACK (record_error), &error);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_autoptr(GSocketConnection) client = send_from ("127.0.0.2", port, forged, strlen (forged));

  WAIT_UNTIL (error != NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "127.0.0.2"));
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 1);
  WAIT_UNTIL (usher_socket_service_get_n_connections (service) == 0);
}

/* At max-connections-per-peer 1, the clients a balancer's headers name count apart: a second
 * client is served through the same balancer, a second connection of the first is refused. */
static void
test_per_peer_cap (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  static const char first[] = "PROXY TCP4 192.0.2.1 192.0.2.100 1000 80\r\n";
  static const char other[] = "PROXY TCP4 192.0.2.2 192.0.2.100 1000 80\r\n";
  guint16 port = serve_proxied (service, held, &error);

  usher_socket_service_set_max_connections_per_peer (service, 1);
  g_autoptr(GSocketConnection) first_client = send_from ("127.0.0.1", port, first, strlen (first));
  WAIT_UNTIL (held->len == 1);
  g_autoptr(GSocketConnection) other_client = send_from ("127.0.0.1", port, other, strlen (other));
  WAIT_UNTIL (held->len == 2);
  assert_address (usher_proxy_info_get_source_address (
                    usher_proxy_info_get_for_connection (held->pdata[1])),
                  "192.0.2.2:1000");
  g_assert_no_error (error);

  g_autoptr(GSocketConnection) second = send_from ("127.0.0.1", port, first, strlen (first));
  WAIT_UNTIL (error != NULL);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, "192.0.2.1 (through 127.0.0.1)"));
  g_assert_cmpuint (held->len, ==, 2);
}

/* A connection from a service without peers carries no info. */
static void
test_no_header_no_info (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GSocketConnection) served = NULL;
  g_autoptr(GSocketConnection) client = NULL;

  g_signal_connect (service, "incoming", G_CALLBACK (hold_connection), &served);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  connect_to (listen_loopback (G_SOCKET_LISTENER (service), NULL), connected_into, &client);
  WAIT_UNTIL (served != NULL);
  g_assert_null (usher_proxy_info_get_for_connection (served));
}

/* Misuse is a critical naming the function and the check, and changes nothing. */
static void
test_misuse_is_a_critical (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  const char *peers[] = { "127.0.0.1", NULL };
  const char *not_utf8[] = { "127.0.0.1", "\xff", NULL };
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set");

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_get_proxy_protocol_peers*USHER_IS_SOCKET_SERVICE*");
  g_assert_null (usher_socket_service_get_proxy_protocol_peers (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_proxy_protocol_peers*USHER_IS_SOCKET_SERVICE*");
  usher_socket_service_set_proxy_protocol_peers ((UsherSocketService *) object, peers);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_proxy_protocol_peers*strv_is_utf8*");
  usher_socket_service_set_proxy_protocol_peers (service, not_utf8);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_try_set_proxy_protocol_peers*strv_is_utf8*");
  g_assert_false (usher_socket_service_try_set_proxy_protocol_peers (service, not_utf8, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_try_set_proxy_protocol_peers*error_is_unset*");
  g_assert_false (usher_socket_service_try_set_proxy_protocol_peers (service, peers, &error));
  g_test_assert_expected_messages ();
  g_assert_null (usher_socket_service_get_proxy_protocol_peers (service));
  g_assert_cmpstr (error->message, ==, "set");

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_get_proxy_protocol_required*USHER_IS_SOCKET_SERVICE*");
  g_assert_false (usher_socket_service_get_proxy_protocol_required (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_proxy_protocol_timeout*USHER_IS_SOCKET_SERVICE*");
  usher_socket_service_set_proxy_protocol_timeout ((UsherSocketService *) object, 1);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_for_connection*G_IS_SOCKET_CONNECTION*");
  g_assert_null (usher_proxy_info_get_for_connection ((GSocketConnection *) object));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_for_connection*G_IS_SOCKET_CONNECTION*");
  g_assert_null (usher_proxy_info_get_for_connection (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_version*USHER_IS_PROXY_INFO*");
  g_assert_cmpuint (usher_proxy_info_get_version (NULL), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_source_address*USHER_IS_PROXY_INFO*");
  g_assert_null (usher_proxy_info_get_source_address ((UsherProxyInfo *) service));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_alpn*USHER_IS_PROXY_INFO*");
  g_assert_null (usher_proxy_info_get_alpn ((UsherProxyInfo *) object));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_proxy_info_get_tlv*USHER_IS_PROXY_INFO*");
  g_assert_null (usher_proxy_info_get_tlv (NULL, 0x01));
  g_test_assert_expected_messages ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy/accessors", test_accessors);
  g_test_add_func ("/proxy/v1-header", test_v1_header);
  g_test_add_func ("/proxy/v2-header", test_v2_header);
  g_test_add_func ("/proxy/forged-header", test_forged_header);
  g_test_add_func ("/proxy/per-peer-cap", test_per_peer_cap);
  g_test_add_func ("/proxy/no-header-no-info", test_no_header_no_info);
  g_test_add_func ("/proxy/misuse-is-a-critical", test_misuse_is_a_critical);
  return g_test_run ();
}
