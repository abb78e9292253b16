/* An echo of one line, over TCP or TLS: the server's side, which echo_first_line() starts on a
 * connection the service handed out, and the client's, exchange(). */

#pragma once

#include <string.h>

#include <gio/gio.h>

#include "wait.h"

/* The server's side of the echo: reads a line, writes it back, and lets go. */
typedef struct
{
  GSocketConnection *connection;
  GDataInputStream *lines;
  char *reply;
} Echo;

static inline void
echo_free (Echo *echo)
{
  g_object_unref (echo->lines);
  g_object_unref (echo->connection);
  g_free (echo->reply);
  g_free (echo);
}

static inline void
echo_written (GObject *output, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (output), result, NULL, &error);
  g_assert_no_error (error);
  echo_free (data);
}

static inline void
echo_read (GObject *lines, GAsyncResult *result, gpointer data)
{
  Echo *echo = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (lines),
                                                                     result, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  echo->reply = g_strconcat (line, "\n", NULL);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (echo->connection)),
                                   echo->reply, strlen (echo->reply), G_PRIORITY_DEFAULT, NULL,
                                   echo_written, echo);
}

/* Echoes the first line of @connection, asynchronously, over TLS or not. */
static inline void
echo_first_line (GSocketConnection *connection)
{
  Echo *echo = g_new0 (Echo, 1);

  echo->connection = g_object_ref (connection);
  echo->lines = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_read_line_async (echo->lines, G_PRIORITY_DEFAULT, NULL, echo_read, echo);
}

/* The client's side: connects, over TLS trusting only @trust if set, says a line and reads the
 * answer. */
typedef struct
{
  GTlsDatabase *trust;
  char *request;
  GSocketConnection *connection;
  GDataInputStream *lines;
  char *line;
  gboolean done;
} EchoClient;

static inline void
echo_client_trust (GSocketClient *socket_client, GSocketClientEvent event,
                   GSocketConnectable *connectable, GIOStream *connection, EchoClient *client)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING)
    {
      g_assert_true (G_IS_TLS_CLIENT_CONNECTION (connection));
      g_tls_connection_set_database (G_TLS_CONNECTION (connection), client->trust);
    }
}

static inline void
echo_client_read (GObject *lines, GAsyncResult *result, gpointer data)
{
  EchoClient *client = data;
  g_autoptr(GError) error = NULL;

  client->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (lines), result,
                                                            NULL, &error);
  g_assert_no_error (error);
  client->done = TRUE;
}

static inline void
echo_client_written (GObject *output, GAsyncResult *result, gpointer data)
{
  EchoClient *client = data;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (output), result, NULL, &error);
  g_assert_no_error (error);
  client->lines =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (client->connection)));
  g_data_input_stream_read_line_async (client->lines, G_PRIORITY_DEFAULT, NULL, echo_client_read,
                                       client);
}

static inline void
echo_client_connected (GObject *socket_client, GAsyncResult *result, gpointer data)
{
  EchoClient *client = data;
  g_autoptr(GError) error = NULL;

  client->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (socket_client), result,
                                                       &error);
  g_assert_no_error (error);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (client->connection)),
                                   client->request, strlen (client->request), G_PRIORITY_DEFAULT,
                                   NULL, echo_client_written, client);
}

/* Sends @line to 127.0.0.1:@port, over TLS trusting only @trust if set, and returns the line
 * read back. */
static inline char *
exchange (guint16 port, GTlsDatabase *trust, const char *line)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);
  EchoClient client = { .trust = trust, .request = g_strconcat (line, "\n", NULL) };

  if (trust != NULL)
    {
      g_socket_client_set_tls (socket_client, TRUE);
      g_signal_connect (socket_client, "event", G_CALLBACK (echo_client_trust), &client);
    }
  g_socket_client_connect_async (socket_client, address, NULL, echo_client_connected, &client);
  WAIT_UNTIL (client.done);
  g_free (client.request);
  g_object_unref (client.lines);
  g_object_unref (client.connection);
  return client.line;
}
