"""History's recipient-name search on PostgreSQL: a word index instead of a trigram index.

A trigram GIN index answers ``UPPER(name) LIKE '%word%'``, but every trigram common to many names
(``SON``, ``MAR``, and in the benchmark's data ``LAS``/``FIR``) has a posting list as long as the table:
at 10,000,000 deliveries a two-word search read them for 0.2-1.8 s. A full-text index of the name's
words (``simple`` configuration: no stemming, no stop words) finds each word, or word prefix, in the
few rows that have it (bench/README.md, History at 10,000,000). It is also a smaller index to write for
every delivery Send inserts. SQLite keeps the ``icontains`` search (``messaging.history._search``).
"""

from __future__ import annotations

from django.db import migrations

WORD_INDEX = (
    "CREATE INDEX IF NOT EXISTS delivery_name_words_idx ON messaging_delivery "
    "USING gin (to_tsvector('simple'::regconfig, recipient_name::text))"
)


def words_instead_of_trigrams(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(WORD_INDEX)
    schema_editor.execute("DROP INDEX IF EXISTS delivery_name_trgm_idx")


def trigrams_again(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS delivery_name_words_idx")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS delivery_name_trgm_idx ON messaging_delivery "
        "USING gin (UPPER(recipient_name::text) gin_trgm_ops)"
    )


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_fallback_and_client_history")]

    operations = [migrations.RunPython(words_instead_of_trigrams, trigrams_again)]
