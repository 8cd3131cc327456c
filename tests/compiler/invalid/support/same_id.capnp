# Imported by dup_id_across_import.capnp; deliberately reuses that file's ID.
@0xa2b4299d3004419a;
struct Thing {}
