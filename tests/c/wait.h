/* Waiting on events, not on time: the default main context iterates until a condition holds,
 * and a test that waits in vain fails after a deadline instead of hanging. */

#pragma once

#include <gio/gio.h>

/* How many iterations WAIT_UNTIL ran so far, to tell whether two events happened in the same
 * iteration of the default main context. */
static guint iteration;

static gboolean
deadline_passed (gpointer timed_out)
{
  *(gboolean *) timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

#define WAIT_DEADLINE_SECONDS 20

#define WAIT_UNTIL(condition)                                                               \
  G_STMT_START                                                                              \
  {                                                                                         \
    gboolean timed_out_ = FALSE;                                                            \
    guint deadline_ = g_timeout_add_seconds (WAIT_DEADLINE_SECONDS, deadline_passed,        \
                                             &timed_out_);                                  \
    while (!(condition) && !timed_out_)                                                     \
      {                                                                                     \
        iteration++;                                                                        \
        g_main_context_iteration (NULL, TRUE);                                              \
      }                                                                                     \
    if (!timed_out_)                                                                        \
      g_source_remove (deadline_);                                                          \
    if (!(condition))                                                                       \
      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,                     \
                           "timed out waiting for " #condition);                            \
  }                                                                                         \
  G_STMT_END

/* Dispatches whatever is ready now, without blocking. */
static inline void
iterate_pending (void)
{
  while (g_main_context_pending (NULL))
    {
      iteration++;
      g_main_context_iteration (NULL, FALSE);
    }
}

/* Connects a client to 127.0.0.1:@port; @callback gets the GSocketClient as source. */
static inline void
connect_to (guint16 port, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);

  g_socket_client_connect_async (client, address, NULL, callback, user_data);
}

/* Connects a client from @local (port 0) to 127.0.0.1:@port, as connect_to() does. */
static inline void
connect_from (const char *local, guint16 port, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetAddress) local_address = g_inet_address_new_from_string (local);
  g_autoptr(GSocketAddress) bound = g_inet_socket_address_new (local_address, 0);
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);

  g_socket_client_set_local_address (client, bound);
  g_socket_client_connect_async (client, address, NULL, callback, user_data);
}

/* A connect_to() callback that stores the connection in *(GSocketConnection **) slot. */
static inline void
connected_into (GObject *client, GAsyncResult *result, gpointer slot)
{
  g_autoptr(GError) error = NULL;

  *(GSocketConnection **) slot = g_socket_client_connect_finish (G_SOCKET_CLIENT (client), result,
                                                                 &error);
  g_assert_no_error (error);
}

/* An incoming handler that keeps the connection in *(GSocketConnection **) slot, if empty. */
static inline gboolean
hold_connection (gpointer service, GSocketConnection *connection, GObject *source_object,
                 gpointer slot)
{
  if (*(GSocketConnection **) slot == NULL)
    *(GSocketConnection **) slot = g_object_ref (connection);
  return TRUE;
}

/* An incoming handler that keeps every connection in the GPtrArray held. */
static inline gboolean
hold_all (gpointer service, GSocketConnection *connection, GObject *source_object,
          GPtrArray *held)
{
  g_ptr_array_add (held, g_object_ref (connection));
  return TRUE;
}

/* An accept-error handler that keeps a copy of the latest error in *last. */
static inline void
record_error (gpointer service, const GError *error, GError **last)
{
  g_clear_error (last);
  *last = g_error_copy (error);
}

/* An incoming handler for tests where no connection may be handed out. */
static inline gboolean
never_incoming (gpointer service, GSocketConnection *connection, GObject *source_object,
                gpointer user_data)
{
  g_assert_not_reached ();
}

/* An accept-error handler for tests where no accept may fail: the error in the log. */
static inline void
no_accept_error (GObject *service, const GError *error, gpointer user_data)
{
  g_assert_no_error ((GError *) error);
}

/* What a client's connection received first. */
typedef struct
{
  char buffer[64];
  gssize size;
  gboolean done;
} Read;

static inline void
read_done (GObject *input, GAsyncResult *result, gpointer data)
{
  Read *read = data;
  g_autoptr(GError) error = NULL;

  read->size = g_input_stream_read_finish (G_INPUT_STREAM (input), result, &error);
  /* A refused client may see its connection reset rather than closed. */
  if (error != NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
      read->size = 0;
    }
  read->done = TRUE;
}

/* Reads once from the client @connection into @read, while the main context runs: a size of 0
 * if the service closed it. */
static inline void
read_first (GSocketConnection *connection, Read *read)
{
  *read = (Read) { .size = -1 };
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             read->buffer, sizeof read->buffer, G_PRIORITY_DEFAULT, NULL,
                             read_done, read);
  WAIT_UNTIL (read->done);
}

/* What the client @connection reads first, as read_first() does: "" if the service closed
 * it. */
static inline char *
first_read (GSocketConnection *connection)
{
  Read read;

  read_first (connection, &read);
  return g_strndup (read.buffer, read.size);
}
