@0xc641627056e19120;
annotation misplaced(structure) :Void;
