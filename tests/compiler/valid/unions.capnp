# Unions and groups in every arrangement the language allows.
@0xb3b174415d5f011c;

struct Shape {
  # An unnamed union between ordinary fields.
  id @0 :UInt32;

  union {
    point @1 :Void;
    circle @2 :Float64;
    polygon @4 :List(Float64);
    label @6 :Text;
  }

  colour @3 :UInt8;
  name @5 :Text;
}

struct Vehicle {
  # Named unions, some holding groups.
  wheels @0 :UInt8;

  engine :union {
    electric :group {
      batteryKwh @1 :Float32;
      chargers @2 :List(Text);
    }
    combustion :group {
      litres @3 :Float32;
      cylinders @4 :UInt8;
      fuel :union {
        petrol @5 :Void;
        diesel @6 :Void;
        other @7 :Text;
      }
    }
    none @8 :Void;
  }

  owner :union {
    person @9 :Text;
    company @10 :Text;
  }
}

struct Nesting {
  # Unions inside unions, groups inside unions inside groups.
  outer :union {
    innerUnion :union {
      small @0 :UInt8;
      large @1 :UInt64;
    }
    innerGroup :group {
      before @2 :Bool;
      choice :union {
        leftBranch @3 :Int16;
        rightBranch :group {
          a @4 :Int32;
          b @5 :Text;
          deepest :union {
            yes @6 :Void;
            no @7 :Void;
          }
        }
      }
      after @8 :Bool;
    }
    plain @9 :Float64;
  }
}

struct Layered {
  # Groups containing only groups, and a group with an unnamed union.
  settings :group {
    display :group {
      width @0 :UInt16;
      height @1 :UInt16;
    }
    audio :group {
      volume @2 :UInt8;
      muted @3 :Bool;
    }
  }

  source :group {
    union {
      file @4 :Text;
      stream @5 :Data;
      silence @6 :Void;
    }
    retries @7 :UInt8;
  }
}

struct Retrofitted {
  # A field that existed before its union did: the union's own ordinal (@1!) is
  # greater than exactly one of its members (@0), the "retroactively unionized" one.
  anchor @1! :union {
    original @0 :Text;
    addedLater @2 :UInt64;
  }
  trailing @3 :Bool;
}

struct OldStyleUnions {
  # Union ordinals lower than every member: the pre-0.3 form, kept with "!".
  first @0! :union {
    a @2 :Int8;
    b @3 :Text;
  }
  second @1! :union {
    c @4 :Bool;
    d @5 :Float32;
    e @6 :Void;
  }
}

struct Interleaving {
  # Two groups whose members alternate ordinals, so their layouts interleave.
  left :group {
    x @0 :UInt32;
    y @2 :UInt64;
    union {
      p @4 :UInt16;
      q :group {
        r @6 :UInt64;
        s @8 :UInt16;
        t @10 :Text;
      }
      u @12 :Text;
    }
  }
  right :group {
    x @1 :UInt32;
    y @3 :UInt64;
    union {
      p @5 :UInt16;
      q :group {
        r @7 :UInt64;
        s @9 :UInt16;
        t @11 :Text;
      }
      u @13 :Text;
    }
  }
}

struct UnionOfBools {
  union {
    a @0 :Bool;
    b @1 :Bool;
    c @2 :Bool;
  }
  d @3 :Bool;
}

struct UnionOfVoids {
  union {
    idle @0 :Void;
    busy @1 :Void;
  }
}

struct UnionFirstThenFields {
  union {
    x @2 :UInt64;
    y @0 :UInt8;
  }
  z @1 :UInt16;
  w @3 :Bool;
}

struct Grown {
  # A struct that gained a union wrapping an existing group.
  union {
    before :group {
      name @0 :Text;
      count @1 :UInt32;
    }
    after :group {
      label @2 :Text;
      total @3 :UInt64;
    }
  }
}
