@0xf6aa7ab4cb60db2b;
# Doc comments in every position the parser attaches them.
#
# This is the file's doc comment: the comment lines directly after the file ID.
#   Indentation after the first space is kept.
#No space after the hash is fine too.

# A comment separated from any declaration by blank lines is not a doc comment.

struct Document {
  # A comment right after the opening brace documents the struct.
  # It can span several lines.

  title @0 :Text;  # A trailing comment documents the field.
  body @1 :Text;
  # A comment on the following line also documents the field.
  # And may continue.

  # A comment preceding a field documents nothing.
  author @2 :Text;

  section :group {
    # Documents the group.
    heading @3 :Text;  # Documents heading.
    level @4 :UInt8;
  }

  kind :union {  # Documents the union (comment on the brace line).
    article @5 :Void;  # An article.
    letter @6 :Void;
    # A letter.
  }

  union {
    # Unnamed unions have no declaration to document, but their members do.
    draft @7 :Void;  # A draft.
    final @8 :Void;
  }

  struct Nested {
  }
  # With nothing after the opening brace, a comment after the closing brace documents the struct.

  struct NestedBoth {
    # Comment after the opening brace wins.
    x @0 :Void;
  }
  # This one is dropped.

  const pageSize :UInt32 = 4096;  # Documents a nested constant.

  emptyComment @9 :Bool;  #
  blankLines @10 :Bool;
  #
  # The first line of this doc comment was empty.
  #
}

enum Status {
  # Documents the enum.
  open @0;  # Documents open.
  closed @1;
  # Documents closed.
  archived @2;
}

interface Editor {
  # Documents the interface.

  open @0 (name :Text) -> (document :Document);
  # Documents a method.

  save @1 (document :Document);  # Documents save, on the same line.

  close @2 ()
      -> ();
  # A method written over several lines.
}

annotation reviewed(struct) :Bool;
# Documents an annotation.

const defaultTitle :Text = "Untitled";
# Documents a constant.

using Alias = Document;
# A comment on a using declaration.

struct Undocumented {
  a @0 :Text;

  b @1 :Text;
}

struct CommentAfterClose {
  a @0 :UInt8;
}  # Documents the struct, after its closing brace.

enum EnumAfterClose {
  x @0;
  y @1;
}
# Also after the closing brace, on the next line.

struct   Spacing	{	# Tabs and extra spaces around tokens.
	a	@0	:	UInt8	;	# Tab-separated field.
	b @1 :Text ;
}

# Trailing comment at end of file, after every declaration.
