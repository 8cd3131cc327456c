# Enums: declaration order differing from ordinal order, explicit IDs, nesting.
@0xee79557d9efb209b;

enum Weekday @0xe48f29182ec6b250 {
  # Declared in calendar order; the ordinals follow a different order.
  monday @1;
  tuesday @2;
  wednesday @3;
  thursday @4;
  friday @5;
  saturday @6;
  sunday @0;
}

enum Single {
  only @0;
}

enum Reserved {
  # Enumerant names that are keywords elsewhere.
  struct @0;
  enum @1;
  union @2;
  void @3;
  true @4;
  false @5;
  inf @6;
  nan @7;
  null @8;
  const @9;
}

struct Calendar {
  enum Month {
    january @0; february @1; march @2; april @3; may @4; june @5;
    july @6; august @7; september @8; october @9; november @10; december @11;
  }

  start @0 :Weekday = monday;
  end @1 :Weekday = sunday;
  month @2 :Month = december;
  busy @3 :List(Weekday) = [saturday, sunday, monday];
  reserved @4 :Reserved = null;
  reservedTrue @5 :Reserved = true;
  reservedInf @6 :Reserved = inf;
  months @7 :List(Month) = [];
  nested @8 :List(List(Month)) = [[june, july], [december]];
}

interface Scheduler {
  enum Priority {
    low @0;
    normal @1;
    high @2;
  }
  schedule @0 (day :Weekday = friday, priority :Priority = normal) -> (month :Calendar.Month);
}

const favourite :Weekday = saturday;
const shortList :List(Weekday) = [tuesday, thursday];
const reservedConst :Reserved = void;
