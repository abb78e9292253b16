/* Certificates while serving, from C: by server name (GTlsClientConnection clients asking for
 * a name), the select-certificate signal and a subclass's slot, files reloaded when renamed
 * into place and kept when half-written, the accessors and their misuse. The certificates are
 * made by openssl once, at the start. */

#include <glib/gstdio.h>

#include "loopback.h"
#include "wait.h"

static char *directory;

static char *
path (const char *file)
{
  return g_build_filename (directory, file, NULL);
}

static void
openssl (const char *const *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *errors = NULL;
  int status = 0;

  g_ptr_array_add (argv, "openssl");
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (char *) *args);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (directory, (char **) argv->pdata, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &errors,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("openssl failed: %s\n%s", error->message, errors);
}

/* A self-signed certificate for @name, with serial @serial, in STEM.pem, STEM.key and, the two
 * in one file, STEM.both.pem. */
static void
make_certificate (const char *stem, const char *name, const char *serial)
{
  g_autofree char *pem = g_strconcat (stem, ".pem", NULL);
  g_autofree char *key = g_strconcat (stem, ".key", NULL);
  g_autofree char *subject = g_strconcat ("/CN=", name, NULL);
  g_autofree char *san = g_strconcat ("subjectAltName=DNS:", name, NULL);
  const char *args[] = {
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key, "-out", pem, "-days", "2", "-subj", subject, "-addext", san,
    "-set_serial", serial, NULL
  };
  g_autofree char *pem_path = path (pem);
  g_autofree char *key_path = path (key);
  g_autofree char *both_path = NULL;
  g_autofree char *pem_text = NULL;
  g_autofree char *key_text = NULL;
  g_autofree char *both = NULL;
  g_autoptr(GError) error = NULL;

  openssl (args);
  g_file_get_contents (pem_path, &pem_text, NULL, &error);
  g_assert_no_error (error);
  g_file_get_contents (key_path, &key_text, NULL, &error);
  g_assert_no_error (error);
  both = g_strconcat (pem_text, key_text, NULL);
  both_path = g_strconcat (directory, "/", stem, ".both.pem", NULL);
  g_file_set_contents (both_path, both, -1, &error);
  g_assert_no_error (error);
}

static GTlsCertificate *
certificate (const char *stem)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_strconcat (directory, "/", stem, ".both.pem", NULL);
  GTlsCertificate *certificate = g_tls_certificate_new_from_file (file, &error);

  g_assert_no_error (error);
  return certificate;
}

/* Replaces @file with @length bytes of @stem's certificate and key, as certificate tools do:
 * written beside it, renamed over it. -1: all of them. */
static void
replace_by_rename (const char *file, const char *stem, gssize length)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *source = g_strconcat (directory, "/", stem, ".both.pem", NULL);
  g_autofree char *temporary = g_strconcat (file, ".tmp", NULL);
  g_autofree char *text = NULL;
  gsize size = 0;

  g_file_get_contents (source, &text, &size, &error);
  g_assert_no_error (error);
  g_file_set_contents (temporary, text, length < 0 ? (gssize) size : length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_rename (temporary, file), ==, 0);
}

/* A TLS client asking for @name (NULL: none), which records the certificate it was served. */
typedef struct
{
  GTlsCertificate *served;
  gboolean done;
  GError *error;
} Client;

static gboolean
accept_any (GTlsConnection *connection, GTlsCertificate *peer, GTlsCertificateFlags errors,
            gpointer data)
{
  return TRUE;
}

static void
handshake_done (GObject *tls, GAsyncResult *result, gpointer data)
{
  Client *client = data;

  if (g_tls_connection_handshake_finish (G_TLS_CONNECTION (tls), result, &client->error))
    client->served = g_object_ref (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)));
  g_io_stream_close (G_IO_STREAM (tls), NULL, NULL);
  g_object_unref (tls);
  client->done = TRUE;
}

static void
connected (GObject *socket_client, GAsyncResult *result, gpointer data)
{
  Client *client = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (socket_client), result, &error);
  const char *name = g_object_get_data (G_OBJECT (socket_client), "name");
  g_autoptr(GSocketConnectable) identity = name ? g_network_address_new (name, 443) : NULL;

  g_assert_no_error (error);
  GIOStream *tls = g_tls_client_connection_new (G_IO_STREAM (connection), identity, &error);
  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), NULL);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any), NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, NULL,
                                    handshake_done, client);
}

/* The certificate the service on @port serves a client asking for @name. */
static GTlsCertificate *
served_to (guint16 port, const char *name)
{
  Client client = { 0 };
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);

  g_object_set_data_full (G_OBJECT (socket_client), "name", g_strdup (name), g_free);
  g_socket_client_connect_async (socket_client, address, NULL, connected, &client);
  WAIT_UNTIL (client.done);
  g_assert_no_error (client.error);
  return client.served;
}

static void
assert_served (guint16 port, const char *name, const char *stem)
{
  g_autoptr(GTlsCertificate) served = served_to (port, name);
  g_autoptr(GTlsCertificate) expected = certificate (stem);

  g_assert_true (g_tls_certificate_is_same (served, expected));
}

/* What the service hands out: the name each ClientHello asked for. */
static gboolean
record_name (UsherSocketService *service, GSocketConnection *connection, GObject *source_object,
             GPtrArray *names)
{
  UsherClientHello *hello = usher_client_hello_get_for_connection (connection);

  g_assert_nonnull (hello);
  g_ptr_array_add (names, g_strdup (usher_client_hello_get_server_name (hello)));
  g_assert_nonnull (usher_client_hello_get_alpn_protocols (hello));
  return FALSE;
}

static GTlsCertificate *
select_late (UsherSocketService *service, GSocketConnection *connection, UsherClientHello *hello,
             gpointer data)
{
  g_assert_true (G_IS_SOCKET_CONNECTION (connection));
  if (g_strcmp0 (usher_client_hello_get_server_name (hello), "late.test") == 0)
    return certificate ("a2");
  return NULL;
}

static void
test_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  UsherSocketSettings *settings = usher_socket_service_get_socket_settings (service);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *default_file = path ("default.both.pem");
  g_autofree char *a_pem = path ("a.pem");
  g_autofree char *a_key = path ("a.key");

  g_assert_true (usher_socket_settings_set_tls_certificate_files (settings, default_file, NULL,
                                                                  &error));
  g_assert_no_error (error);
  g_assert_true (usher_socket_settings_set_tls_certificate_files_for_name (settings, "A.test",
                                                                           a_pem, a_key, &error));
  g_assert_no_error (error);
  g_autoptr(GTlsCertificate) wild = certificate ("wild");
  g_assert_true (usher_socket_settings_set_tls_certificate_for_name (settings, "*.wild.test",
                                                                     wild, &error));
  g_assert_no_error (error);

  g_auto(GStrv) listed = usher_socket_settings_get_tls_certificate_names (settings);
  const char *expected[] = { "a.test", "*.wild.test", NULL };
  g_assert_cmpstrv (listed, expected);
  g_autofree char *file = usher_socket_settings_get_tls_certificate_file (settings);
  g_assert_cmpstr (file, ==, default_file);
  g_autofree char *key = usher_socket_settings_get_tls_key_file (settings);
  g_assert_null (key);
  g_autoptr(GTlsCertificate) chosen =
    usher_socket_settings_get_tls_certificate_for_name (settings, "x.wild.test");
  g_assert_true (g_tls_certificate_is_same (chosen, wild));

  g_signal_connect (service, "incoming", G_CALLBACK (record_name), names);
  g_signal_connect (service, "select-certificate", G_CALLBACK (select_late), NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  assert_served (port, "a.test", "a");
  assert_served (port, "x.wild.test", "wild");
  assert_served (port, "late.test", "a2");
  assert_served (port, NULL, "default");
  WAIT_UNTIL (names->len == 4);
  g_assert_cmpstr (names->pdata[0], ==, "a.test");
  g_assert_cmpstr (names->pdata[1], ==, "x.wild.test");
  g_assert_cmpstr (names->pdata[2], ==, "late.test");
  g_assert_null (names->pdata[3]);

  /* Not a name: refused, nothing changed. */
  g_assert_false (usher_socket_settings_set_tls_certificate_for_name (settings, "a*.test", wild,
                                                                      &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (usher_socket_settings_set_tls_certificate_files (settings, "/nonexistent.pem",
                                                                   NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autofree char *still = usher_socket_settings_get_tls_certificate_file (settings);
  g_assert_cmpstr (still, ==, default_file);
}

static void
count (gpointer counter)
{
  (*(guint *) counter)++;
}

static void
record_failure (UsherSocketSettings *settings, const char *file, const GError *error,
                GPtrArray *failures)
{
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_ptr_array_add (failures, g_strdup (file));
}

static void
test_reload (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *watched = g_build_filename (directory, "watched", NULL);
  g_autofree char *file = g_build_filename (watched, "cert.pem", NULL);
  guint swapped = 0;

  g_assert_cmpint (g_mkdir (watched, 0700), ==, 0);
  replace_by_rename (file, "default", -1);
  g_assert_true (usher_socket_settings_set_tls_certificate_files (settings, file, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect_swapped (settings, "notify::tls-certificate", G_CALLBACK (count), &swapped);
  g_signal_connect (settings, "tls-certificate-reload-failed", G_CALLBACK (record_failure),
                    failures);

  guint16 port = listen_with (service, settings);
  assert_served (port, NULL, "default");

  /* Half a file: the old certificate goes on serving, and the file is named. */
  replace_by_rename (file, "a2", 300);
  WAIT_UNTIL (failures->len == 1);
  g_assert_cmpstr (failures->pdata[0], ==, file);
  assert_served (port, NULL, "default");
  g_assert_cmpuint (swapped, ==, 0);

  /* The whole of it: served from the next handshake on. */
  replace_by_rename (file, "a2", -1);
  WAIT_UNTIL (swapped == 1);
  assert_served (port, NULL, "a2");
  g_assert_true (usher_socket_settings_reload_tls_certificates (settings, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (swapped, ==, 1);

  /* Setting the certificate stops watching. */
  g_autoptr(GTlsCertificate) fixed = certificate ("default");
  usher_socket_settings_set_tls_certificate (settings, fixed);
  g_autofree char *none = usher_socket_settings_get_tls_certificate_file (settings);
  g_assert_null (none);
  g_remove (file);
  g_rmdir (watched);
}

/* A subclass whose select_certificate slot chooses: as GLib calls a class handler. */
typedef struct
{
  UsherSocketService parent_instance;
} Chooser;

typedef struct
{
  UsherSocketServiceClass parent_class;
} ChooserClass;

G_DEFINE_TYPE (Chooser, chooser, USHER_TYPE_SOCKET_SERVICE)

static GTlsCertificate *
chooser_select_certificate (UsherSocketService *service, GSocketConnection *connection,
                            UsherClientHello *hello)
{
  return certificate ("wild");
}

static void
chooser_class_init (ChooserClass *klass)
{
  USHER_SOCKET_SERVICE_CLASS (klass)->select_certificate = chooser_select_certificate;
}

static void
chooser_init (Chooser *chooser)
{
}

static void
test_subclass_slot (void)
{
  g_autoptr(UsherSocketService) service = g_object_new (chooser_get_type (), NULL);
  g_autoptr(GTlsCertificate) fallback = certificate ("default");
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  usher_socket_service_set_tls_certificate (service, fallback);
  g_signal_connect (service, "incoming", G_CALLBACK (record_name), names);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  assert_served (port, "anything.test", "wild");
  WAIT_UNTIL (names->len == 1);
}

static void
test_misuse (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*certificate_file*");
  g_assert_false (usher_socket_settings_set_tls_certificate_files (settings, NULL, NULL, NULL));
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*name*");
  g_assert_false (usher_socket_settings_set_tls_certificate_for_name (settings, NULL, NULL, NULL));
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*USHER_IS_SOCKET_SETTINGS*");
  g_assert_false (usher_socket_settings_reload_tls_certificates (NULL, NULL));
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*USHER_IS_CLIENT_HELLO*");
  g_assert_null (usher_client_hello_get_server_name (NULL));
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*G_IS_SOCKET_CONNECTION*");
  g_assert_null (usher_client_hello_get_for_connection (NULL));
  g_test_assert_expected_messages ();
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return g_test_run ();
    }
  directory = g_dir_make_tmp ("usher-certificates-XXXXXX", &error);
  g_assert_no_error (error);
  make_certificate ("default", "default.test", "0xd1");
  make_certificate ("a", "a.test", "0xa1");
  make_certificate ("a2", "a.test", "0xa2");
  make_certificate ("wild", "*.wild.test", "0xc1");

  g_test_add_func ("/certificates/names", test_names);
  g_test_add_func ("/certificates/reload", test_reload);
  g_test_add_func ("/certificates/subclass-slot", test_subclass_slot);
  g_test_add_func ("/certificates/misuse", test_misuse);
  status = g_test_run ();

  const char *files[] = { "default", "a", "a2", "wild" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    for (const char *const *suffix = (const char *const[]) { ".pem", ".key", ".both.pem", NULL };
         *suffix != NULL; suffix++)
      {
        g_autofree char *name = g_strconcat (directory, "/", files[i], *suffix, NULL);
        g_remove (name);
      }
  g_rmdir (directory);
  g_free (directory);
  return status;
}
