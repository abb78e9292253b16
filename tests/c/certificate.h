/* A certificate for the TLS tests from C: self-signed for localhost and 127.0.0.1, made by
 * openssl at test time in a temporary directory, which remove_certificate() removes. */

#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>

static char *certificate_dir;
static char *certificate_path;
static char *key_path;
static GTlsCertificate *certificate;

/* A self-signed certificate for localhost and 127.0.0.1, made once; NULL, and the test
 * skipped, without openssl or a TLS backend. */
static inline GTlsCertificate *
test_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *errors = NULL;
  int status = 0;

  if (certificate != NULL)
    return certificate;
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return NULL;
    }
  if (openssl == NULL)
    {
      g_test_skip ("no openssl to make a certificate with");
      return NULL;
    }

  certificate_dir = g_dir_make_tmp ("usher-tls-XXXXXX", &error);
  g_assert_no_error (error);
  certificate_path = g_build_filename (certificate_dir, "cert.pem", NULL);
  key_path = g_build_filename (certificate_dir, "key.pem", NULL);
  const char *argv[] = {
    openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key_path, "-out", certificate_path, "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL
  };
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &errors,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("openssl failed: %s\n%s", error->message, errors);

  certificate = g_tls_certificate_new_from_files (certificate_path, key_path, &error);
  g_assert_no_error (error);
  return certificate;
}

static inline void
remove_certificate (void)
{
  if (certificate_dir == NULL)
    return;
  g_remove (certificate_path);
  g_remove (key_path);
  g_rmdir (certificate_dir);
  g_free (certificate_path);
  g_free (key_path);
  g_free (certificate_dir);
  g_clear_object (&certificate);
}
