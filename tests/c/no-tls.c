/* TLS without a TLS backend: run with GIO_MODULE_DIR set to a directory that does not exist, so
 * that GIO loads no glib-networking. Every client then fails its handshake with
 * G_TLS_ERROR_UNAVAILABLE, through accept-error, and one warning (one only: a second would abort
 * under G_DEBUG=fatal-warnings) says why. */

#include "loopback.h"
#include "wait.h"

/* A certificate that is no more than its type: without a backend none can be made from files.
 * GTlsCertificate's properties are for its backends to implement; these read as unset. */
typedef struct
{
  GTlsCertificate parent_instance;
} TestCertificate;

typedef struct
{
  GTlsCertificateClass parent_class;
} TestCertificateClass;

G_DEFINE_TYPE (TestCertificate, test_certificate, G_TYPE_TLS_CERTIFICATE)

static void
test_certificate_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
}

static void
test_certificate_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
}

static void
test_certificate_class_init (TestCertificateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  guint n_properties = 0;
  g_autofree GParamSpec **properties =
    g_object_class_list_properties (G_OBJECT_CLASS (test_certificate_parent_class), &n_properties);

  object_class->set_property = test_certificate_set_property;
  object_class->get_property = test_certificate_get_property;
  for (guint i = 0; i < n_properties; i++)
    g_object_class_override_property (object_class, i + 1, properties[i]->name);
}

static void
test_certificate_init (TestCertificate *certificate)
{
}

static void
count_unavailable (UsherSocketService *service, const GError *error, guint *errors)
{
  g_assert_error ((GError *) error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE);
  (*errors)++;
}

/* Three clients, three G_TLS_ERROR_UNAVAILABLE, one warning. */
static void
test_every_connection_fails (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GTlsCertificate) certificate = g_object_new (test_certificate_get_type (), NULL);
  GSocketConnection *clients[3] = { NULL };
  guint errors = 0;

  g_assert_false (g_tls_backend_supports_tls (g_tls_backend_get_default ()));

  g_test_expect_message ("Usher", G_LOG_LEVEL_WARNING, "*TLS backend*");
  usher_socket_service_set_tls_certificate (service, certificate);
  g_autoptr (GTlsCertificate) set = usher_socket_service_get_tls_certificate (service);
  g_assert_true (set == certificate);
  g_signal_connect (service, "incoming", G_CALLBACK (never_incoming), NULL);
  g_signal_connect (service, "accept-error", G_CALLBACK (count_unavailable), &errors);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    connect_to (port, connected_into, &clients[i]);
  WAIT_UNTIL (errors == G_N_ELEMENTS (clients));
  g_test_assert_expected_messages ();

  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 3);
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 3);
  WAIT_UNTIL (usher_socket_service_get_n_connections (service) == 0);
  g_assert_true (usher_socket_service_is_active (service));
  usher_socket_service_stop (service);
  WAIT_UNTIL (clients[0] != NULL && clients[1] != NULL && clients[2] != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    g_object_unref (clients[i]);
}

int
main (int argc, char **argv)
{
  /* meson cannot unset a variable; GIO reads it on first use. */
  g_unsetenv ("GIO_EXTRA_MODULES");
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/no-tls/every-connection-fails", test_every_connection_fails);
  return g_test_run ();
}
