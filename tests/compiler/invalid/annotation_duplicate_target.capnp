@0xff3471a0cd50f9c1;
annotation twice(field, field) :Void;
