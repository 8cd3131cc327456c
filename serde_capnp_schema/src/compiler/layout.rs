//! Struct layout: which data bits, pointer slots and union discriminants each member of a struct
//! gets, bit-identical to the reference compiler (capnp 0.9.2).
//!
//! Offsets are not a function of the final member list alone: they depend on the order in which
//! members were *added* to the schema over its history, which Cap'n Proto encodes as ordinals.
//! Members are therefore placed one at a time in ordinal order, each into the smallest free hole
//! that fits, so that a field added later never moves an earlier one.
//!
//! Unions complicate this. A union owns a set of *locations* carved out of its enclosing scope
//! (data ranges and pointer slots). Each member of the union (a field, a group, or a nested union,
//! all treated as one-member groups) lays itself out within those locations, reusing space other
//! members already claimed, and grows or adds locations only when nothing fits. The discriminant is
//! claimed just before the union's second member takes its first slot: a single-member union is a
//! plain field in the wire format, which is what lets a field be "retroactively unionized" (the
//! `name @N! :union` syntax pins the discriminant to ordinal N instead).
//!
//! A group outside a union is just a naming device: its members are laid out as if they were
//! members of the enclosing scope.

/// The storage class of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotSize {
    /// `Void`: no space, but it still counts as a member of its union.
    Void,
    /// A data field of `2^lg_bits` bits: 0 for `Bool`, 3/4/5/6 for 8/16/32/64-bit numbers
    /// (enums are 16 bits). Anything above 6 is rejected.
    Data { lg_bits: u8 },
    /// Text, Data, List, struct, interface and AnyPointer fields.
    Pointer,
}

/// One member of a struct, group or union, as far as layout cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayoutMember {
    /// A field with its ordinal (for a method's inline parameter list: its position).
    Field { ordinal: u16, size: SlotSize },
    /// A union: named, or the unnamed union of a struct or group. `ordinal` is the optional
    /// `@N!` of a named union, which places the discriminant when ordinal N comes up.
    Union {
        ordinal: Option<u16>,
        members: Vec<LayoutMember>,
    },
    /// A named group (`g :group { … }`).
    Group { members: Vec<LayoutMember> },
}

/// A struct's layout, as computed by [`lay_out`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StructLayoutResult {
    /// Size of the data section in 64-bit words.
    pub data_words: u16,
    /// Number of pointers.
    pub pointers: u16,
    /// The offset of each [`LayoutMember::Field`], in depth-first tree order, counted in units of
    /// the field's own size (pointer slots for pointers, 0 for `Void`), as `Field.slot.offset`
    /// wants it.
    pub field_offsets: Vec<u32>,
    /// The discriminant offset of each [`LayoutMember::Union`], in depth-first tree order, in
    /// 16-bit units (`Node.struct.discriminantOffset`).
    pub discriminant_offsets: Vec<u32>,
    /// Problems found; if any, the offsets above are best effort and the schema must be rejected.
    /// (The two offset lists always have one entry per field and per union.)
    pub errors: Vec<LayoutError>,
}

/// A member of the input tree, by its position among its kind in depth-first tree order (the same
/// indexing as [`StructLayoutResult::field_offsets`] and
/// [`StructLayoutResult::discriminant_offsets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayoutItem {
    Field(usize),
    Union(usize),
}

/// Why a layout is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayoutError {
    /// A union's `@N!` ordinal comes after two or more of its members' ordinals, so the
    /// discriminant had already been placed when the union's ordinal came up. (Only one existing
    /// field can be moved into a new union.)
    UnionOrdinalTooLate { union_index: usize },
    /// The reference compiler refuses this schema: Cap'n Proto 0.5.x and older laid it out
    /// incorrectly (overlapping fields in nested unions), so any layout now would be incompatible
    /// with what those versions produced. See <https://github.com/capnproto/capnproto/issues/344>.
    /// `at` is the member whose placement ran into it. (The offsets returned are those of the
    /// corrected algorithm, as `CAPNP_IGNORE_ISSUE_344` would give.)
    Issue344 { at: LayoutItem },
    /// A `SlotSize::Data` larger than 64 bits.
    InvalidFieldSize { field_index: usize },
    /// The data section would exceed 65535 words or the pointer section 65535 pointers.
    TooLarge,
    /// Members nest deeper than this module is willing to recurse.
    TooDeep,
    /// The layout algorithm met a state it should never reach; a bug here, not in the schema.
    Internal,
}

/// How deep members (groups and unions) may nest before [`lay_out`] gives up.
pub(crate) const MAX_NESTING: usize = 100;

/// More members than any valid struct can have (ordinals are 16-bit); larger trees are refused
/// before allocation so that no offset arithmetic can overflow.
const MAX_ITEMS: usize = 1 << 20;

/// Lays out one struct (or one method parameter list) whose members are `members`.
///
/// Fields are placed in ordinal order (ties, which valid input has none of, broken as the
/// reference does). A union with an ordinal gets its discriminant when that ordinal comes up, any
/// other union when its second member takes space (or, for a union that never had two members
/// with content, at the end). The caller is expected to have validated the ordinals (unique, no
/// gaps) and the union/group member counts; this function still never panics on other input, it
/// just computes what the algorithm gives.
pub(crate) fn lay_out(members: &[LayoutMember]) -> StructLayoutResult {
    let (fields, unions) = count_members(members);
    if fields + unions > MAX_ITEMS {
        return StructLayoutResult::failed(fields, unions, LayoutError::TooLarge);
    }
    let mut plan = Plan::default();
    if let Err(error) = plan.collect_scope(members, Scope::Top, 0) {
        return StructLayoutResult::failed(fields, unions, error);
    }
    let Plan {
        mut allocator,
        mut steps,
        field_count,
        union_scopes,
    } = plan;

    let mut errors = Vec::new();
    let mut field_offsets = vec![0u32; field_count];
    steps.sort_by_key(|step| step.ordinal);
    for step in &steps {
        let at = match step.action {
            Action::Field { index, scope, size } => {
                field_offsets[index] = match size {
                    SlotSize::Void => {
                        allocator.add_void(scope);
                        0
                    }
                    SlotSize::Data { lg_bits } if lg_bits > 6 => {
                        errors.push(LayoutError::InvalidFieldSize { field_index: index });
                        0
                    }
                    SlotSize::Data { lg_bits } => allocator.add_data(scope, u32::from(lg_bits)),
                    SlotSize::Pointer => allocator.add_pointer(scope),
                };
                LayoutItem::Field(index)
            }
            Action::Union { index, scope } => {
                if !allocator.add_discriminant(scope) {
                    errors.push(LayoutError::UnionOrdinalTooLate { union_index: index });
                }
                LayoutItem::Union(index)
            }
        };
        allocator.report(at, &mut errors);
    }

    // Only unions with fewer than two non-empty members (which the caller rejects) are still
    // without a discriminant here. The reference visits an unnamed union at the start of its
    // enclosing struct or group rather than at its own place, so their offsets may differ from
    // it, which does not matter for a schema that fails anyway.
    for (index, &scope) in union_scopes.iter().enumerate() {
        allocator.add_discriminant(scope);
        allocator.report(LayoutItem::Union(index), &mut errors);
    }
    let discriminant_offsets = union_scopes
        .iter()
        .map(|&scope| allocator.unions[scope].discriminant.unwrap_or(0))
        .collect();

    let data_words = u16::try_from(allocator.data_words);
    let pointers = u16::try_from(allocator.pointers);
    if data_words.is_err() || pointers.is_err() {
        errors.push(LayoutError::TooLarge);
    }
    StructLayoutResult {
        data_words: data_words.unwrap_or(u16::MAX),
        pointers: pointers.unwrap_or(u16::MAX),
        field_offsets,
        discriminant_offsets,
        errors,
    }
}

impl StructLayoutResult {
    /// A result with all offsets 0, still one per member so that callers can index it.
    fn failed(fields: usize, unions: usize, error: LayoutError) -> Self {
        StructLayoutResult {
            data_words: 0,
            pointers: 0,
            field_offsets: vec![0; fields],
            discriminant_offsets: vec![0; unions],
            errors: vec![error],
        }
    }
}

/// The number of fields and of unions in the tree, without recursion (the tree may be too deep
/// to recurse into).
fn count_members(members: &[LayoutMember]) -> (usize, usize) {
    let (mut fields, mut unions) = (0, 0);
    let mut pending = vec![members];
    while let Some(list) = pending.pop() {
        for member in list {
            match member {
                LayoutMember::Field { .. } => fields += 1,
                LayoutMember::Union { members, .. } => {
                    unions += 1;
                    pending.push(members);
                }
                LayoutMember::Group { members } => pending.push(members),
            }
        }
    }
    (fields, unions)
}

/// The scopes of the input tree and the placements to make, in tree order.
#[derive(Default)]
struct Plan {
    allocator: Allocator,
    steps: Vec<Step>,
    field_count: usize,
    /// The allocator's union scope for each input union, in tree order.
    union_scopes: Vec<usize>,
}

struct Step {
    ordinal: u16,
    action: Action,
}

#[derive(Clone, Copy)]
enum Action {
    Field {
        index: usize,
        scope: Scope,
        size: SlotSize,
    },
    Union {
        index: usize,
        scope: usize,
    },
}

impl Plan {
    /// Members of the struct itself or of a group: they all draw on `scope` directly.
    fn collect_scope(
        &mut self,
        members: &[LayoutMember],
        scope: Scope,
        depth: usize,
    ) -> Result<(), LayoutError> {
        if depth > MAX_NESTING {
            return Err(LayoutError::TooDeep);
        }
        for member in members {
            match member {
                LayoutMember::Field { ordinal, size } => self.add_field(*ordinal, scope, *size),
                LayoutMember::Union { ordinal, members } => {
                    self.add_union(*ordinal, members, scope, depth)?;
                }
                LayoutMember::Group { members } => self.collect_scope(members, scope, depth + 1)?,
            }
        }
        Ok(())
    }

    /// Members of a union: each one, even a lone field, is a group of its own that shares the
    /// union's locations with its siblings.
    fn collect_union(
        &mut self,
        members: &[LayoutMember],
        union: usize,
        depth: usize,
    ) -> Result<(), LayoutError> {
        if depth > MAX_NESTING {
            return Err(LayoutError::TooDeep);
        }
        for member in members {
            let group = Scope::Group(self.allocator.new_group(union));
            match member {
                LayoutMember::Field { ordinal, size } => self.add_field(*ordinal, group, *size),
                LayoutMember::Union { ordinal, members } => {
                    self.add_union(*ordinal, members, group, depth)?;
                }
                LayoutMember::Group { members } => self.collect_scope(members, group, depth + 1)?,
            }
        }
        Ok(())
    }

    fn add_field(&mut self, ordinal: u16, scope: Scope, size: SlotSize) {
        let index = self.field_count;
        self.field_count += 1;
        self.steps.push(Step {
            ordinal,
            action: Action::Field { index, scope, size },
        });
    }

    /// A union drawing on `parent`. Its own step goes after its members' (it only matters
    /// for ties, i.e. duplicate ordinals, but that is the reference's order).
    fn add_union(
        &mut self,
        ordinal: Option<u16>,
        members: &[LayoutMember],
        parent: Scope,
        depth: usize,
    ) -> Result<(), LayoutError> {
        let scope = self.allocator.new_union(parent);
        let index = self.union_scopes.len();
        self.union_scopes.push(scope);
        self.collect_union(members, scope, depth + 1)?;
        if let Some(ordinal) = ordinal {
            self.steps.push(Step {
                ordinal,
                action: Action::Union { index, scope },
            });
        }
        Ok(())
    }
}

/// Where a field draws its space from.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// The struct's own sections.
    Top,
    /// A member of a union (index into [`Allocator::groups`]).
    Group(usize),
}

/// Free space inside an allocated region: at most one hole of each size from 1 to 32 bits.
///
/// Every field is a power of two in size and aligned to its size, so carving an `n`-bit field out
/// of the smallest hole that fits (of `m` bits) leaves exactly one new hole of each size between
/// `n` and `m`, none of which can already exist. `holes[lg]` is the hole's offset in units of its
/// size, or 0 for none: a hole can never start at 0 because the first thing allocated in a region
/// always goes there.
#[derive(Debug, Clone, Copy, Default)]
struct HoleSet {
    holes: [u32; 6],
}

impl HoleSet {
    /// Takes a `2^lg`-bit piece of the smallest hole that fits; its offset in units of `2^lg`.
    fn try_allocate(&mut self, lg: u32) -> Option<u32> {
        let lg_index = usize::try_from(lg).ok().filter(|&i| i < self.holes.len())?;
        if self.holes[lg_index] != 0 {
            return Some(std::mem::take(&mut self.holes[lg_index]));
        }
        let doubled = self.try_allocate(lg + 1)? * 2;
        self.holes[lg_index] = doubled + 1;
        Some(doubled)
    }

    /// Records the holes left after a `2^lg`-bit field was put at the start of a fresh
    /// `2^limit`-bit region: one each of sizes `lg..limit`, the first at `offset` (odd, in units
    /// of `2^lg`).
    fn add_holes_at_end(&mut self, mut lg: u32, mut offset: u32, limit: u32) {
        while lg < limit && (lg as usize) < self.holes.len() {
            self.holes[lg as usize] = offset;
            lg += 1;
            offset = offset.div_ceil(2);
        }
    }

    /// Grows the `2^old_lg`-bit value at `old_offset` to `2^(old_lg + factor)` bits by merging it
    /// with the holes right after it, if they are all there.
    fn try_expand(&mut self, old_lg: u32, old_offset: u32, factor: u32) -> bool {
        if factor == 0 {
            return true;
        }
        let Some(lg_index) = usize::try_from(old_lg)
            .ok()
            .filter(|&i| i < self.holes.len())
        else {
            return false;
        };
        if self.holes[lg_index] != old_offset.wrapping_add(1) {
            return false;
        }
        if self.try_expand(old_lg + 1, old_offset >> 1, factor - 1) {
            self.holes[lg_index] = 0;
            true
        } else {
            false
        }
    }

    /// Whether [`Self::try_expand`] would succeed.
    fn could_expand(&self, old_lg: u32, old_offset: u32, factor: u32) -> bool {
        (0..factor).all(|step| {
            let lg = old_lg + step;
            lg < 6 && self.holes[lg as usize] == (old_offset >> step).wrapping_add(1)
        })
    }

    /// The lg size of the smallest hole of at least `2^lg` bits.
    fn smallest_at_least(&self, lg: u32) -> Option<u32> {
        (lg..6).find(|&size| self.holes[size as usize] != 0)
    }
}

/// A data range owned by a union: `2^lg_size` bits at `offset` (in units of its size) within the
/// union's enclosing scope.
#[derive(Debug, Clone, Copy)]
struct DataLocation {
    lg_size: u32,
    offset: u32,
}

#[derive(Debug, Clone)]
struct UnionScope {
    parent: Scope,
    /// Members that have claimed space (or a `Void`) so far.
    members_with_content: u32,
    /// In 16-bit units, within `parent`.
    discriminant: Option<u32>,
    data: Vec<DataLocation>,
    /// Slot numbers within `parent`.
    pointers: Vec<u32>,
}

/// How much of one of its union's data locations a union member uses. Offsets inside are
/// relative to the start of the location.
#[derive(Debug, Clone, Copy, Default)]
struct LocationUsage {
    used: bool,
    /// The lg size of the prefix of the location covering everything this member placed there.
    lg_used: u32,
    holes: HoleSet,
}

/// One member of a union, seen as a scope of its own.
#[derive(Debug, Clone)]
struct GroupScope {
    union: usize,
    has_content: bool,
    /// Parallel to the union's `data`; shorter when later locations were added by siblings and
    /// never looked at by this member.
    data: Vec<LocationUsage>,
    /// How many of the union's pointer slots this member uses (a prefix).
    pointers_used: usize,
}

/// The state of the whole struct's layout while members are being placed.
#[derive(Debug, Clone, Default)]
struct Allocator {
    data_words: u32,
    pointers: u32,
    holes: HoleSet,
    unions: Vec<UnionScope>,
    groups: Vec<GroupScope>,
    /// Set when the placement in progress hit an issue-344 schema.
    hit_issue_344: bool,
    /// Set when an invariant failed (a bug in this module).
    hit_internal: bool,
}

impl Allocator {
    fn new_union(&mut self, parent: Scope) -> usize {
        self.unions.push(UnionScope {
            parent,
            members_with_content: 0,
            discriminant: None,
            data: Vec::new(),
            pointers: Vec::new(),
        });
        self.unions.len() - 1
    }

    fn new_group(&mut self, union: usize) -> usize {
        self.groups.push(GroupScope {
            union,
            has_content: false,
            data: Vec::new(),
            pointers_used: 0,
        });
        self.groups.len() - 1
    }

    /// Moves the flags raised while placing `at` into `errors`.
    fn report(&mut self, at: LayoutItem, errors: &mut Vec<LayoutError>) {
        if std::mem::take(&mut self.hit_issue_344) {
            errors.push(LayoutError::Issue344 { at });
        }
        if std::mem::take(&mut self.hit_internal) && !errors.contains(&LayoutError::Internal) {
            errors.push(LayoutError::Internal);
        }
    }

    fn add_void(&mut self, scope: Scope) {
        if let Scope::Group(group) = scope {
            self.note_content(group);
            // A Void inside a nested union still makes its enclosing member count as non-empty
            // for the outer union, whose discriminant depends on it.
            let parent = self.unions[self.groups[group].union].parent;
            self.add_void(parent);
        }
    }

    /// Returns the offset in units of `2^lg` bits.
    fn add_data(&mut self, scope: Scope, lg: u32) -> u32 {
        match scope {
            Scope::Top => self.top_add_data(lg),
            Scope::Group(group) => self.group_add_data(group, lg),
        }
    }

    fn add_pointer(&mut self, scope: Scope) -> u32 {
        match scope {
            Scope::Top => {
                self.pointers += 1;
                self.pointers - 1
            }
            Scope::Group(group) => {
                self.note_content(group);
                let union = self.groups[group].union;
                let next = self.groups[group].pointers_used;
                self.groups[group].pointers_used += 1;
                if let Some(&slot) = self.unions[union].pointers.get(next) {
                    slot
                } else {
                    let slot = self.add_pointer(self.unions[union].parent);
                    self.unions[union].pointers.push(slot);
                    slot
                }
            }
        }
    }

    /// Places the union's discriminant unless it already has one; whether it did.
    fn add_discriminant(&mut self, union: usize) -> bool {
        if self.unions[union].discriminant.is_some() {
            return false;
        }
        let offset = self.add_data(self.unions[union].parent, 4);
        self.unions[union].discriminant = Some(offset);
        true
    }

    /// Called before a union member places anything: the second member to do so makes the
    /// union need its discriminant, and it must get it before that member's own slot.
    fn note_content(&mut self, group: usize) {
        if self.groups[group].has_content {
            return;
        }
        self.groups[group].has_content = true;
        let union = self.groups[group].union;
        self.unions[union].members_with_content += 1;
        if self.unions[union].members_with_content == 2 {
            self.add_discriminant(union);
        }
    }

    fn top_add_data(&mut self, lg: u32) -> u32 {
        if let Some(offset) = self.holes.try_allocate(lg) {
            return offset;
        }
        let offset = self.data_words << (6 - lg.min(6));
        self.data_words += 1;
        self.holes.add_holes_at_end(lg, offset + 1, 6);
        offset
    }

    fn try_expand_data(&mut self, scope: Scope, old_lg: u32, old_offset: u32, factor: u32) -> bool {
        match scope {
            Scope::Top => self.holes.try_expand(old_lg, old_offset, factor),
            Scope::Group(group) => self.group_try_expand_data(group, old_lg, old_offset, factor),
        }
    }

    fn group_add_data(&mut self, group: usize, lg: u32) -> u32 {
        self.note_content(group);
        let union = self.groups[group].union;
        let location_count = self.unions[union].data.len();
        if self.groups[group].data.len() < location_count {
            self.groups[group]
                .data
                .resize(location_count, LocationUsage::default());
        }

        // The tightest fit among space the member already has rights to.
        let mut best: Option<(u32, usize)> = None;
        for (index, (usage, location)) in self.groups[group]
            .data
            .iter()
            .zip(&self.unions[union].data)
            .enumerate()
        {
            if let Some(hole) = usage.smallest_hole_at_least(*location, lg) {
                if best.is_none_or(|(best_hole, _)| hole < best_hole) {
                    best = Some((hole, index));
                }
            }
        }
        if let Some((_, index)) = best {
            let location = self.unions[union].data[index];
            return self.groups[group].data[index].allocate_from_hole(location, lg);
        }

        // Nothing fits as is; try growing a location into free space that follows it.
        for index in 0..location_count {
            if let Some(offset) = self.try_allocate_by_expanding(group, index, lg) {
                return offset;
            }
        }

        let parent = self.unions[union].parent;
        let offset = self.add_data(parent, lg);
        self.unions[union].data.push(DataLocation {
            lg_size: lg,
            offset,
        });
        self.groups[group].data.push(LocationUsage {
            used: true,
            lg_used: lg,
            holes: HoleSet::default(),
        });
        offset
    }

    fn try_allocate_by_expanding(&mut self, group: usize, index: usize, lg: u32) -> Option<u32> {
        let union = self.groups[group].union;
        let usage = self.groups[group].data[index];
        if !usage.used {
            if !self.try_expand_location(union, index, lg) {
                return None;
            }
            let usage = &mut self.groups[group].data[index];
            usage.used = true;
            usage.lg_used = lg;
            let location = self.unions[union].data[index];
            return Some(location.offset << (location.lg_size - lg));
        }
        let wanted = usage.lg_used.max(lg) + 1;
        if !self.try_expand_usage(group, index, wanted, true) {
            return None;
        }
        let Some(offset) = self.groups[group].data[index].holes.try_allocate(lg) else {
            self.hit_internal = true;
            return None;
        };
        let location = self.unions[union].data[index];
        Some((location.offset << location.lg_size.saturating_sub(lg)) + offset)
    }

    /// Grows location `index` of `union` to `2^new_lg` bits, if the space after it is free.
    fn try_expand_location(&mut self, union: usize, index: usize, new_lg: u32) -> bool {
        let location = self.unions[union].data[index];
        if new_lg <= location.lg_size {
            return true;
        }
        let factor = new_lg - location.lg_size;
        let parent = self.unions[union].parent;
        if !self.try_expand_data(parent, location.lg_size, location.offset, factor) {
            return false;
        }
        self.unions[union].data[index] = DataLocation {
            lg_size: new_lg,
            offset: location.offset >> factor,
        };
        true
    }

    /// Makes the member's used prefix of location `index` `2^wanted` bits, growing the location
    /// if needed. `new_holes` says whether the added space is free (growing usage to make room)
    /// or taken (a nested union's location, which is the whole usage, is itself growing).
    fn try_expand_usage(
        &mut self,
        group: usize,
        index: usize,
        wanted: u32,
        new_holes: bool,
    ) -> bool {
        let union = self.groups[group].union;
        if wanted > self.unions[union].data[index].lg_size
            && !self.try_expand_location(union, index, wanted)
        {
            return false;
        }
        let usage = &mut self.groups[group].data[index];
        if new_holes {
            usage.holes.add_holes_at_end(usage.lg_used, 1, wanted);
        } else {
            // Capnp 0.5 added the holes here too, which could give two fields one offset; the
            // reference compiler now rejects such schemas rather than silently change them.
            self.hit_issue_344 = true;
        }
        usage.lg_used = wanted;
        true
    }

    /// A nested union inside this member wants to grow one of its locations (`2^old_lg` bits at
    /// `old_offset`, in this member's coordinates).
    fn group_try_expand_data(
        &mut self,
        group: usize,
        old_lg: u32,
        old_offset: u32,
        factor: u32,
    ) -> bool {
        let impossible = old_lg + factor > 6 || old_offset & ((1 << factor.min(31)) - 1) != 0;
        if !impossible {
            return self.expand_within_group(group, old_lg, old_offset, factor);
        }
        // Capnp 0.5 went on to try anyway, and a success there gave a bogus layout. The reference
        // compiler rejects exactly those schemas; the expansion is refused either way.
        if self.could_expand_within_group(group, old_lg, old_offset, factor) {
            self.hit_issue_344 = true;
        }
        false
    }

    fn expand_within_group(
        &mut self,
        group: usize,
        old_lg: u32,
        old_offset: u32,
        factor: u32,
    ) -> bool {
        let union = self.groups[group].union;
        for index in 0..self.groups[group].data.len() {
            let location = self.unions[union].data[index];
            if location.lg_size < old_lg {
                continue;
            }
            let shift = location.lg_size - old_lg;
            if old_offset >> shift != location.offset {
                continue;
            }
            let local_offset = old_offset - (location.offset << shift);
            let usage = self.groups[group].data[index];
            return if local_offset == 0 && usage.lg_used == old_lg {
                // The value being grown is all this member has here, so grow the usage itself.
                self.try_expand_usage(group, index, old_lg + factor, false)
            } else {
                // Other things of this member sit in the location too: only holes can be merged.
                self.groups[group].data[index]
                    .holes
                    .try_expand(old_lg, local_offset, factor)
            };
        }
        self.hit_internal = true;
        false
    }

    /// Whether [`Self::expand_within_group`] would succeed (or hit issue 344 on the way), without
    /// changing anything.
    fn could_expand_within_group(
        &self,
        group: usize,
        old_lg: u32,
        old_offset: u32,
        factor: u32,
    ) -> bool {
        let union = self.groups[group].union;
        for (index, usage) in self.groups[group].data.iter().enumerate() {
            let location = self.unions[union].data[index];
            if location.lg_size < old_lg {
                continue;
            }
            let shift = location.lg_size - old_lg;
            if old_offset >> shift != location.offset {
                continue;
            }
            let local_offset = old_offset - (location.offset << shift);
            return if local_offset == 0 && usage.lg_used == old_lg {
                let wanted = old_lg + factor;
                wanted <= location.lg_size
                    || self.could_expand(
                        self.unions[union].parent,
                        location.lg_size,
                        location.offset,
                        wanted - location.lg_size,
                    )
            } else {
                usage.holes.could_expand(old_lg, local_offset, factor)
            };
        }
        false
    }

    fn could_expand(&self, scope: Scope, old_lg: u32, old_offset: u32, factor: u32) -> bool {
        match scope {
            Scope::Top => self.holes.could_expand(old_lg, old_offset, factor),
            Scope::Group(group) => {
                self.could_expand_within_group(group, old_lg, old_offset, factor)
            }
        }
    }
}

impl LocationUsage {
    /// The lg size of the smallest free piece of at least `2^lg` bits this member could use
    /// without growing the location: a hole, unused room after its used prefix, or the whole
    /// location if unused.
    fn smallest_hole_at_least(&self, location: DataLocation, lg: u32) -> Option<u32> {
        if !self.used {
            (lg <= location.lg_size).then_some(location.lg_size)
        } else if lg >= self.lg_used {
            // Doubling the used prefix to twice the request puts the request in the new half.
            (lg < location.lg_size).then_some(lg)
        } else if let Some(hole) = self.holes.smallest_at_least(lg) {
            Some(hole)
        } else {
            // Doubling the used prefix creates a hole the size of the current usage.
            (self.lg_used < location.lg_size).then_some(self.lg_used)
        }
    }

    /// Takes the piece [`Self::smallest_hole_at_least`] found; the offset in the union's parent,
    /// in units of `2^lg` bits.
    fn allocate_from_hole(&mut self, location: DataLocation, lg: u32) -> u32 {
        let local = if !self.used {
            self.used = true;
            self.lg_used = lg;
            0
        } else if lg >= self.lg_used {
            self.holes.add_holes_at_end(self.lg_used, 1, lg);
            self.lg_used = lg + 1;
            1
        } else if let Some(hole) = self.holes.try_allocate(lg) {
            hole
        } else {
            let local = 1 << (self.lg_used - lg);
            self.holes.add_holes_at_end(lg, local + 1, self.lg_used);
            self.lg_used += 1;
            local
        };
        (location.offset << location.lg_size.saturating_sub(lg)) + local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: SlotSize = SlotSize::Void;
    const B1: SlotSize = SlotSize::Data { lg_bits: 0 };
    const B8: SlotSize = SlotSize::Data { lg_bits: 3 };
    const B16: SlotSize = SlotSize::Data { lg_bits: 4 };
    const B32: SlotSize = SlotSize::Data { lg_bits: 5 };
    const B64: SlotSize = SlotSize::Data { lg_bits: 6 };
    const P: SlotSize = SlotSize::Pointer;

    fn f(ordinal: u16, size: SlotSize) -> LayoutMember {
        LayoutMember::Field { ordinal, size }
    }

    fn union(members: Vec<LayoutMember>) -> LayoutMember {
        LayoutMember::Union {
            ordinal: None,
            members,
        }
    }

    fn union_at(ordinal: u16, members: Vec<LayoutMember>) -> LayoutMember {
        LayoutMember::Union {
            ordinal: Some(ordinal),
            members,
        }
    }

    fn group(members: Vec<LayoutMember>) -> LayoutMember {
        LayoutMember::Group { members }
    }

    /// Lays out `members`, compares with what capnp 0.9.2 produced, and checks that nothing
    /// that can be set at the same time overlaps.
    #[track_caller]
    fn check(
        members: &[LayoutMember],
        data_words: u16,
        pointers: u16,
        field_offsets: &[u32],
        discriminant_offsets: &[u32],
    ) {
        let result = lay_out(members);
        assert_eq!(result.errors, []);
        assert_eq!(
            (result.data_words, result.pointers),
            (data_words, pointers),
            "section sizes"
        );
        assert_eq!(result.field_offsets, field_offsets, "field offsets");
        assert_eq!(
            result.discriminant_offsets, discriminant_offsets,
            "discriminant offsets"
        );
        assert_no_overlap(members, &result);
    }

    /// Something that occupies space, with the union members it lives in.
    struct Occupant {
        /// `(union index, member index)` for each enclosing union.
        path: Vec<(usize, usize)>,
        /// Bit range in the data section, or pointer slot.
        space: Space,
        label: String,
    }

    enum Space {
        Bits(u64, u64),
        Pointer(u32),
    }

    fn occupants(members: &[LayoutMember], result: &StructLayoutResult) -> Vec<Occupant> {
        fn walk(
            members: &[LayoutMember],
            path: &mut Vec<(usize, usize)>,
            enclosing: Option<usize>,
            counters: &mut (usize, usize),
            result: &StructLayoutResult,
            out: &mut Vec<Occupant>,
        ) {
            for (position, member) in members.iter().enumerate() {
                if let Some(union) = enclosing {
                    path.push((union, position));
                }
                match member {
                    LayoutMember::Field { size, .. } => {
                        let index = counters.0;
                        counters.0 += 1;
                        let offset = u64::from(result.field_offsets[index]);
                        let space = match size {
                            SlotSize::Void => None,
                            SlotSize::Data { lg_bits } => {
                                let bits = 1u64 << lg_bits;
                                Some(Space::Bits(offset * bits, (offset + 1) * bits))
                            }
                            SlotSize::Pointer => Some(Space::Pointer(offset as u32)),
                        };
                        if let Some(space) = space {
                            out.push(Occupant {
                                path: path.clone(),
                                space,
                                label: format!("field {index}"),
                            });
                        }
                    }
                    LayoutMember::Union { members, .. } => {
                        let index = counters.1;
                        counters.1 += 1;
                        let offset = u64::from(result.discriminant_offsets[index]);
                        out.push(Occupant {
                            path: path.clone(),
                            space: Space::Bits(offset * 16, offset * 16 + 16),
                            label: format!("discriminant {index}"),
                        });
                        walk(members, path, Some(index), counters, result, out);
                    }
                    LayoutMember::Group { members } => {
                        walk(members, path, None, counters, result, out);
                    }
                }
                if enclosing.is_some() {
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        walk(
            members,
            &mut Vec::new(),
            None,
            &mut (0, 0),
            result,
            &mut out,
        );
        out
    }

    #[track_caller]
    fn assert_no_overlap(members: &[LayoutMember], result: &StructLayoutResult) {
        let all = occupants(members, result);
        for occupant in &all {
            match occupant.space {
                Space::Bits(_, end) => assert!(
                    end <= u64::from(result.data_words) * 64,
                    "{} is outside the data section",
                    occupant.label
                ),
                Space::Pointer(slot) => assert!(
                    slot < u32::from(result.pointers),
                    "{} is outside the pointer section",
                    occupant.label
                ),
            }
        }
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let exclusive = a
                    .path
                    .iter()
                    .any(|&(union, member)| b.path.iter().any(|&(u, m)| u == union && m != member));
                let overlap = match (&a.space, &b.space) {
                    (Space::Bits(a0, a1), Space::Bits(b0, b1)) => a0 < b1 && b0 < a1,
                    (Space::Pointer(x), Space::Pointer(y)) => x == y,
                    _ => false,
                };
                assert!(exclusive || !overlap, "{} and {} overlap", a.label, b.label);
            }
        }
    }

    /// Like [`check`], for a case whose expectation may be errors: `expected` is absent when
    /// the tool gives no layout; with an issue-344 error it is the `CAPNP_IGNORE_ISSUE_344`
    /// layout. The tool stops at the first issue-344 error, so only that one is compared.
    #[track_caller]
    fn differential(
        members: &[LayoutMember],
        expected: Option<(u16, u16, &[u32], &[u32])>,
        errors: &[LayoutError],
    ) {
        let result = lay_out(members);
        let is_344 = |e: &LayoutError| matches!(e, LayoutError::Issue344 { .. });
        let first_344 = result.errors.iter().find(|e| is_344(e));
        assert_eq!(first_344, errors.iter().find(|e| is_344(e)), "issue 344");
        let others: Vec<_> = result.errors.iter().filter(|e| !is_344(e)).collect();
        let expected_others: Vec<_> = errors.iter().filter(|e| !is_344(e)).collect();
        assert_eq!(others, expected_others, "errors");
        if let Some((data_words, pointers, fields, discriminants)) = expected {
            assert_eq!(
                (result.data_words, result.pointers),
                (data_words, pointers),
                "section sizes"
            );
            assert_eq!(result.field_offsets, fields, "field offsets");
            assert_eq!(
                result.discriminant_offsets, discriminants,
                "discriminant offsets"
            );
            assert_no_overlap(members, &result);
        }
    }

    // The expectations below are what `capnp compile -ocapnp` (capnp 0.9.2) printed for the schema
    // in each test's comment; the `TestCapnp…` ones are structs of capnp's own `test.capnp`.

    /// ```capnp
    /// struct HoleFilling {
    ///   a @0 :Bool;
    ///   b @1 :UInt64;
    ///   c @2 :UInt8;
    ///   d @3 :UInt16;
    ///   e @4 :Bool;
    ///   f @5 :UInt32;
    ///   g @6 :Bool;
    ///   h @7 :Text;
    ///   i @8 :UInt8;
    ///   j @9 :UInt32;
    ///   k @10 :Float64;
    ///   l @11 :Data;
    ///   m @12 :Int16;
    ///   n @13 :Bool;
    /// }
    /// ```
    #[test]
    fn hole_filling() {
        check(
            &[
                f(0, B1),
                f(1, B64),
                f(2, B8),
                f(3, B16),
                f(4, B1),
                f(5, B32),
                f(6, B1),
                f(7, P),
                f(8, B8),
                f(9, B32),
                f(10, B64),
                f(11, P),
                f(12, B16),
                f(13, B1),
            ],
            4,
            2,
            &[0, 1, 1, 1, 1, 1, 2, 0, 16, 5, 3, 1, 9, 3],
            &[],
        );
    }

    /// ```capnp
    /// struct OutOfOrder {
    ///   a @3 :UInt16;
    ///   b @0 :Bool;
    ///   c @5 :UInt64;
    ///   d @1 :UInt32;
    ///   e @4 :Text;
    ///   f @2 :UInt8;
    ///   g @6 :List(Bool);
    ///   h @8 :Bool;
    ///   i @7 :AnyPointer;
    /// }
    /// ```
    #[test]
    fn out_of_order() {
        check(
            &[
                f(3, B16),
                f(0, B1),
                f(5, B64),
                f(1, B32),
                f(4, P),
                f(2, B8),
                f(6, P),
                f(8, B1),
                f(7, P),
            ],
            2,
            3,
            &[1, 0, 1, 1, 0, 1, 1, 1, 2],
            &[],
        );
    }

    /// ```capnp
    /// struct ParamList {
    ///   a @0 :Bool;
    ///   b @1 :Text;
    ///   c @2 :UInt64;
    ///   d @3 :UInt8;
    ///   e @4 :Void;
    ///   f @5 :Float32;
    /// }
    /// ```
    #[test]
    fn param_list() {
        check(
            &[f(0, B1), f(1, P), f(2, B64), f(3, B8), f(4, V), f(5, B32)],
            2,
            1,
            &[0, 0, 1, 1, 0, 1],
            &[],
        );
    }

    /// ```capnp
    /// struct TopLevelGroups {
    ///   a @0 :UInt16;
    ///   g :group {
    ///     b @1 :Bool;
    ///     h :group {
    ///       c @3 :UInt32;
    ///       d @5 :Text;
    ///     }
    ///     e @4 :UInt8;
    ///   }
    ///   f @2 :Text;
    ///   i @6 :UInt64;
    /// }
    /// ```
    #[test]
    fn top_level_groups() {
        check(
            &[
                f(0, B16),
                group(vec![f(1, B1), group(vec![f(3, B32), f(5, P)]), f(4, B8)]),
                f(2, P),
                f(6, B64),
            ],
            2,
            2,
            &[0, 16, 1, 1, 3, 0, 1],
            &[],
        );
    }

    /// ```capnp
    /// struct TestUnion {
    ///   union0 @0! :union {
    ///     u0f0s0  @4: Void;
    ///     u0f0s1  @5: Bool;
    ///     u0f0s8  @6: Int8;
    ///     u0f0s16 @7: Int16;
    ///     u0f0s32 @8: Int32;
    ///     u0f0s64 @9: Int64;
    ///     u0f0sp  @10: Text;
    ///     u0f1s0  @11: Void;
    ///     u0f1s1  @12: Bool;
    ///     u0f1s8  @13: Int8;
    ///     u0f1s16 @14: Int16;
    ///     u0f1s32 @15: Int32;
    ///     u0f1s64 @16: Int64;
    ///     u0f1sp  @17: Text;
    ///   }
    ///   bit0 @18: Bool;
    ///   union1 @1! :union {
    ///     u1f0s0  @19: Void;
    ///     u1f0s1  @20: Bool;
    ///     u1f1s1  @21: Bool;
    ///     u1f0s8  @22: Int8;
    ///     u1f1s8  @23: Int8;
    ///     u1f0s16 @24: Int16;
    ///     u1f1s16 @25: Int16;
    ///     u1f0s32 @26: Int32;
    ///     u1f1s32 @27: Int32;
    ///     u1f0s64 @28: Int64;
    ///     u1f1s64 @29: Int64;
    ///     u1f0sp  @30: Text;
    ///     u1f1sp  @31: Text;
    ///     u1f2s0  @32: Void;
    ///     u1f2s1  @33: Bool;
    ///     u1f2s8  @34: Int8;
    ///     u1f2s16 @35: Int16;
    ///     u1f2s32 @36: Int32;
    ///     u1f2s64 @37: Int64;
    ///     u1f2sp  @38: Text;
    ///   }
    ///   bit2 @39: Bool;
    ///   bit3 @40: Bool;
    ///   bit4 @41: Bool;
    ///   bit5 @42: Bool;
    ///   bit6 @43: Bool;
    ///   bit7 @44: Bool;
    ///   union2 @2! :union {
    ///     u2f0s64 @54: Int64;
    ///     u2f0s32 @52: Int32;
    ///     u2f0s16 @50: Int16;
    ///     u2f0s8 @47: Int8;
    ///     u2f0s1 @45: Bool;
    ///   }
    ///   union3 @3! :union {
    ///     u3f0s64 @55: Int64;
    ///     u3f0s32 @53: Int32;
    ///     u3f0s16 @51: Int16;
    ///     u3f0s8 @48: Int8;
    ///     u3f0s1 @46: Bool;
    ///   }
    ///   byte0 @49: UInt8;
    /// }
    /// ```
    #[test]
    fn test_capnp_union() {
        check(
            &[
                union_at(
                    0,
                    vec![
                        f(4, V),
                        f(5, B1),
                        f(6, B8),
                        f(7, B16),
                        f(8, B32),
                        f(9, B64),
                        f(10, P),
                        f(11, V),
                        f(12, B1),
                        f(13, B8),
                        f(14, B16),
                        f(15, B32),
                        f(16, B64),
                        f(17, P),
                    ],
                ),
                f(18, B1),
                union_at(
                    1,
                    vec![
                        f(19, V),
                        f(20, B1),
                        f(21, B1),
                        f(22, B8),
                        f(23, B8),
                        f(24, B16),
                        f(25, B16),
                        f(26, B32),
                        f(27, B32),
                        f(28, B64),
                        f(29, B64),
                        f(30, P),
                        f(31, P),
                        f(32, V),
                        f(33, B1),
                        f(34, B8),
                        f(35, B16),
                        f(36, B32),
                        f(37, B64),
                        f(38, P),
                    ],
                ),
                f(39, B1),
                f(40, B1),
                f(41, B1),
                f(42, B1),
                f(43, B1),
                f(44, B1),
                union_at(
                    2,
                    vec![f(54, B64), f(52, B32), f(50, B16), f(47, B8), f(45, B1)],
                ),
                union_at(
                    3,
                    vec![f(55, B64), f(53, B32), f(51, B16), f(48, B8), f(46, B1)],
                ),
                f(49, B8),
            ],
            8,
            2,
            &[
                0, 64, 8, 4, 2, 1, 0, 0, 64, 8, 4, 2, 1, 0, 128, 0, 129, 129, 17, 17, 9, 9, 5, 5,
                3, 3, 1, 1, 0, 129, 17, 9, 5, 3, 1, 130, 131, 132, 133, 134, 135, 6, 10, 18, 33,
                256, 7, 11, 19, 34, 257, 35,
            ],
            &[0, 1, 2, 3],
        );
    }

    /// ```capnp
    /// struct TestUnnamedUnion {
    ///   before @0 :Text;
    ///   union {
    ///     foo @1 :UInt16;
    ///     bar @3 :UInt32;
    ///   }
    ///   middle @2 :UInt16;
    ///   after @4 :Text;
    /// }
    /// ```
    #[test]
    fn test_capnp_unnamed_union() {
        check(
            &[
                f(0, P),
                union(vec![f(1, B16), f(3, B32)]),
                f(2, B16),
                f(4, P),
            ],
            2,
            2,
            &[0, 0, 2, 1, 1],
            &[2],
        );
    }

    /// ```capnp
    /// struct TestUnionInUnion {
    ///   outer :union {
    ///     inner :union {
    ///       foo @0 :Int32;
    ///       bar @1 :Int32;
    ///     }
    ///     baz @2 :Int32;
    ///   }
    /// }
    /// ```
    #[test]
    fn test_capnp_union_in_union() {
        check(
            &[union(vec![union(vec![f(0, B32), f(1, B32)]), f(2, B32)])],
            2,
            0,
            &[0, 0, 0],
            &[4, 2],
        );
    }

    /// ```capnp
    /// struct TestGroups {
    ///   groups :union {
    ///     foo :group {
    ///       corge @0 :Int32;
    ///       grault @2 :Int64;
    ///       garply @8 :Text;
    ///     }
    ///     bar :group {
    ///       corge @3 :Int32;
    ///       grault @4 :Text;
    ///       garply @5 :Int64;
    ///     }
    ///     baz :group {
    ///       corge @1 :Int32;
    ///       grault @6 :Text;
    ///       garply @7 :Text;
    ///     }
    ///   }
    /// }
    /// ```
    #[test]
    fn test_capnp_groups() {
        check(
            &[union(vec![
                group(vec![f(0, B32), f(2, B64), f(8, P)]),
                group(vec![f(3, B32), f(4, P), f(5, B64)]),
                group(vec![f(1, B32), f(6, P), f(7, P)]),
            ])],
            2,
            2,
            &[0, 1, 0, 0, 0, 1, 0, 0, 1],
            &[2],
        );
    }

    /// ```capnp
    /// struct TestInterleavedGroups {
    ///   group1 :group {
    ///     foo @0 :UInt32;
    ///     bar @2 :UInt64;
    ///     union {
    ///       qux @4 :UInt16;
    ///       corge :group {
    ///         grault @6 :UInt64;
    ///         garply @8 :UInt16;
    ///         plugh @14 :Text;
    ///         xyzzy @16 :Text;
    ///       }
    ///       fred @12 :Text;
    ///     }
    ///     waldo @10 :Text;
    ///   }
    ///   group2 :group {
    ///     foo @1 :UInt32;
    ///     bar @3 :UInt64;
    ///     union {
    ///       qux @5 :UInt16;
    ///       corge :group {
    ///         grault @7 :UInt64;
    ///         garply @9 :UInt16;
    ///         plugh @15 :Text;
    ///         xyzzy @17 :Text;
    ///       }
    ///       fred @13 :Text;
    ///     }
    ///     waldo @11 :Text;
    ///   }
    /// }
    /// ```
    #[test]
    fn test_capnp_interleaved_groups() {
        check(
            &[
                group(vec![
                    f(0, B32),
                    f(2, B64),
                    union(vec![
                        f(4, B16),
                        group(vec![f(6, B64), f(8, B16), f(14, P), f(16, P)]),
                        f(12, P),
                    ]),
                    f(10, P),
                ]),
                group(vec![
                    f(1, B32),
                    f(3, B64),
                    union(vec![
                        f(5, B16),
                        group(vec![f(7, B64), f(9, B16), f(15, P), f(17, P)]),
                        f(13, P),
                    ]),
                    f(11, P),
                ]),
            ],
            6,
            6,
            &[0, 1, 12, 4, 12, 2, 4, 2, 0, 1, 2, 13, 5, 13, 3, 5, 3, 1],
            &[14, 15],
        );
    }

    /// ```capnp
    /// struct TestLateUnion {
    ///   foo @0 :Int32;
    ///   bar @1 :Text;
    ///   baz @2 :Int16;
    ///   theUnion @3! :union {
    ///     qux @4 :Text;
    ///     corge @5 :List(Int32);
    ///     grault @6 :Float32;
    ///   }
    ///   anotherUnion @7! :union {
    ///     qux @8 :Text;
    ///     corge @9 :List(Int32);
    ///     grault @10 :Float32;
    ///   }
    /// }
    /// ```
    #[test]
    fn test_capnp_late_union() {
        check(
            &[
                f(0, B32),
                f(1, P),
                f(2, B16),
                union_at(3, vec![f(4, P), f(5, P), f(6, B32)]),
                union_at(7, vec![f(8, P), f(9, P), f(10, B32)]),
            ],
            3,
            3,
            &[0, 0, 2, 1, 1, 2, 2, 2, 4],
            &[3, 6],
        );
    }

    /// ```capnp
    /// struct TestNewUnionVersion {
    ///   union {
    ///     a :union {
    ///       a0 @0 :Void;
    ///       a1 @2 :UInt64;
    ///     }
    ///     b @1 :UInt64;
    ///   }
    /// }
    /// ```
    #[test]
    fn test_capnp_new_union_version() {
        check(
            &[union(vec![union(vec![f(0, V), f(2, B64)]), f(1, B64)])],
            3,
            0,
            &[0, 2, 1],
            &[0, 4],
        );
    }

    /// ```capnp
    /// struct NestedUnionTagMisaligned {
    ///   union {
    ///     x @0 :Void;
    ///     y @1 :UInt64;
    ///     z :union {
    ///       a :union {
    ///         a0 @2 :Void;
    ///         a1 @4 :Void;
    ///       }
    ///       b @3 :UInt64;
    ///     }
    ///   }
    /// }
    /// ```
    #[test]
    fn nested_union_tag_misaligned() {
        check(
            &[union(vec![
                f(0, V),
                f(1, B64),
                union(vec![union(vec![f(2, V), f(4, V)]), f(3, B64)]),
            ])],
            3,
            0,
            &[0, 1, 0, 0, 2],
            &[0, 4, 8],
        );
    }

    /// ```capnp
    /// struct RetroactiveUnion {
    ///   a @0 :Void;
    ///   u @2! :union {
    ///     b @1 :UInt64;
    ///     c @3 :UInt8;
    ///   }
    ///   d @4 :UInt8;
    /// }
    /// ```
    #[test]
    fn retroactive_union() {
        check(
            &[f(0, V), union_at(2, vec![f(1, B64), f(3, B8)]), f(4, B8)],
            2,
            0,
            &[0, 0, 0, 10],
            &[4],
        );
    }

    /// ```capnp
    /// struct RetroactiveUnionOfPointer {
    ///   a @0 :Text;
    ///   b @1 :Bool;
    ///   u @3! :union {
    ///     c @2 :Text;
    ///     d @4 :UInt32;
    ///     e @5 :Text;
    ///   }
    /// }
    /// ```
    #[test]
    fn retroactive_union_of_pointer() {
        check(
            &[
                f(0, P),
                f(1, B1),
                union_at(3, vec![f(2, P), f(4, B32), f(5, P)]),
            ],
            1,
            2,
            &[0, 0, 1, 1, 1],
            &[1],
        );
    }

    /// ```capnp
    /// struct UnionOrdinalTooLate {
    ///   a @0 :Void;
    ///   u @3! :union {
    ///     b @1 :UInt64;
    ///     c @2 :UInt8;
    ///   }
    ///   d @4 :UInt8;
    /// }
    /// ```
    #[test]
    fn union_ordinal_too_late() {
        differential(
            &[f(0, V), union_at(3, vec![f(1, B64), f(2, B8)]), f(4, B8)],
            None,
            &[LayoutError::UnionOrdinalTooLate { union_index: 0 }],
        );
    }

    /// ```capnp
    /// struct VoidMembers {
    ///   a @0 :UInt8;
    ///   union {
    ///     v1 @1 :Void;
    ///     v2 @2 :Void;
    ///     x @4 :UInt32;
    ///   }
    ///   b @3 :UInt16;
    ///   u :union {
    ///     w1 @5 :Void;
    ///     g :group {
    ///       w2 @6 :Void;
    ///       w3 @7 :Void;
    ///     }
    ///   }
    /// }
    /// ```
    #[test]
    fn void_members() {
        check(
            &[
                f(0, B8),
                union(vec![f(1, V), f(2, V), f(4, B32)]),
                f(3, B16),
                union(vec![f(5, V), group(vec![f(6, V), f(7, V)])]),
            ],
            2,
            0,
            &[0, 0, 0, 2, 2, 0, 0, 0],
            &[1, 3],
        );
    }

    /// ```capnp
    /// struct GroupsShareAndExpand {
    ///   union {
    ///     a @0 :UInt8;
    ///     g :group {
    ///       b @1 :UInt16;
    ///       c @2 :UInt8;
    ///       d @3 :UInt32;
    ///       e @4 :Bool;
    ///     }
    ///     h :group {
    ///       f @5 :Bool;
    ///       i @6 :UInt64;
    ///       j @7 :Bool;
    ///       k @8 :Text;
    ///       l @9 :Text;
    ///       m @10 :UInt8;
    ///     }
    ///   }
    ///   z @11 :UInt8;
    ///   y @12 :UInt16;
    /// }
    /// ```
    #[test]
    fn groups_share_and_expand() {
        check(
            &[
                union(vec![
                    f(0, B8),
                    group(vec![f(1, B16), f(2, B8), f(3, B32), f(4, B1)]),
                    group(vec![
                        f(5, B1),
                        f(6, B64),
                        f(7, B1),
                        f(8, P),
                        f(9, P),
                        f(10, B8),
                    ]),
                ]),
                f(11, B8),
                f(12, B16),
            ],
            3,
            2,
            &[0, 0, 4, 2, 40, 0, 1, 1, 0, 1, 1, 6, 8],
            &[1],
        );
    }

    /// ```capnp
    /// struct UnionMemberHoles {
    ///   top @0 :UInt8;
    ///   union {
    ///     wide @1 :UInt64;
    ///     g :group {
    ///       b1 @2 :Bool;
    ///       n16 @3 :UInt16;
    ///       b2 @4 :Bool;
    ///       n8 @5 :UInt8;
    ///       n32 @6 :UInt32;
    ///       b3 @7 :Bool;
    ///     }
    ///     narrow :group {
    ///       x @8 :UInt16;
    ///       y @9 :Bool;
    ///       z @10 :UInt8;
    ///     }
    ///   }
    ///   after @11 :Bool;
    /// }
    /// ```
    #[test]
    fn union_member_holes() {
        check(
            &[
                f(0, B8),
                union(vec![
                    f(1, B64),
                    group(vec![
                        f(2, B1),
                        f(3, B16),
                        f(4, B1),
                        f(5, B8),
                        f(6, B32),
                        f(7, B1),
                    ]),
                    group(vec![f(8, B16), f(9, B1), f(10, B8)]),
                ]),
                f(11, B1),
            ],
            2,
            0,
            &[0, 1, 64, 5, 65, 9, 3, 66, 4, 80, 11, 8],
            &[1],
        );
    }

    /// ```capnp
    /// struct PointersInUnions {
    ///   p0 @0 :Text;
    ///   union {
    ///     a :group {
    ///       a0 @1 :Text;
    ///       a1 @2 :Data;
    ///       a2 @5 :List(UInt8);
    ///     }
    ///     b :group {
    ///       b0 @3 :AnyPointer;
    ///     }
    ///     c :group {
    ///       c0 @6 :Text;
    ///       c1 @7 :Text;
    ///       c2 @8 :Text;
    ///       c3 @9 :Text;
    ///     }
    ///   }
    ///   p1 @4 :Text;
    ///   p2 @10 :Text;
    /// }
    /// ```
    #[test]
    fn pointers_in_unions() {
        check(
            &[
                f(0, P),
                union(vec![
                    group(vec![f(1, P), f(2, P), f(5, P)]),
                    group(vec![f(3, P)]),
                    group(vec![f(6, P), f(7, P), f(8, P), f(9, P)]),
                ]),
                f(4, P),
                f(10, P),
            ],
            1,
            7,
            &[0, 1, 2, 4, 1, 1, 2, 4, 5, 3, 6],
            &[0],
        );
    }

    /// ```capnp
    /// struct UnionsInGroupsInUnions {
    ///   head @0 :UInt16;
    ///   union {
    ///     a @1 :UInt32;
    ///     g :group {
    ///       x @2 :Bool;
    ///       union {
    ///         p @3 :UInt8;
    ///         q @4 :UInt16;
    ///         r :group {
    ///           r0 @5 :Bool;
    ///           r1 @6 :Text;
    ///         }
    ///       }
    ///       y @7 :UInt8;
    ///       inner :union {
    ///         s @8 :UInt64;
    ///         t @9 :Void;
    ///       }
    ///     }
    ///     h :group {
    ///       k :union {
    ///         k0 @10 :Bool;
    ///         k1 @11 :UInt32;
    ///       }
    ///       l @12 :Text;
    ///     }
    ///   }
    ///   tail @13 :UInt64;
    /// }
    /// ```
    #[test]
    fn unions_in_groups_in_unions() {
        check(
            &[
                f(0, B16),
                union(vec![
                    f(1, B32),
                    group(vec![
                        f(2, B1),
                        union(vec![f(3, B8), f(4, B16), group(vec![f(5, B1), f(6, P)])]),
                        f(7, B8),
                        union(vec![f(8, B64), f(9, V)]),
                    ]),
                    group(vec![union(vec![f(10, B1), f(11, B32)]), f(12, P)]),
                ]),
                f(13, B64),
            ],
            4,
            1,
            &[0, 1, 32, 5, 4, 40, 0, 10, 2, 0, 32, 2, 0, 3],
            &[1, 3, 6, 3],
        );
    }

    /// ```capnp
    /// struct Issue344 {
    ///   field1 @0 :Int32;
    ///   field2 @1 :Int64;
    ///   field3 @2 :Int32;
    ///   eventType :union {
    ///     unknownEvent @3 :Void;
    ///     sampleEvent :group {
    ///       field4 @4 :Int32;
    ///       request :union {
    ///         field5 @5 :Void;
    ///         field6 :group {
    ///           field7 @6 :Int16;
    ///           field8 @7 :Int32;
    ///           field9 @8 :Float64;
    ///           field10 @9 :Int32;
    ///         }
    ///       }
    ///     }
    ///   }
    /// }
    /// ```
    #[test]
    fn issue_344() {
        differential(
            &[
                f(0, B32),
                f(1, B64),
                f(2, B32),
                union(vec![
                    f(3, V),
                    group(vec![
                        f(4, B32),
                        union(vec![
                            f(5, V),
                            group(vec![f(6, B16), f(7, B32), f(8, B64), f(9, B32)]),
                        ]),
                    ]),
                ]),
            ],
            Some((6, 0, &[0, 1, 1, 0, 5, 0, 12, 7, 4, 10], &[8, 9])),
            &[LayoutError::Issue344 {
                at: LayoutItem::Field(7),
            }],
        );
    }

    /// ```capnp
    /// struct NestedUnionCannotGrowInPlace {
    ///   union {
    ///     a @0 :UInt16;
    ///     g :group {
    ///       b @1 :UInt8;
    ///       inner :union {
    ///         c @2 :UInt8;
    ///         d @3 :UInt16;
    ///       }
    ///     }
    ///   }
    /// }
    /// ```
    #[test]
    fn nested_union_cannot_grow_in_place() {
        check(
            &[union(vec![
                f(0, B16),
                group(vec![f(1, B8), union(vec![f(2, B8), f(3, B16)])]),
            ])],
            1,
            0,
            &[0, 0, 1, 3],
            &[1, 2],
        );
    }

    /// ```capnp
    /// struct UnionOrdinalErrorsAndIssue344 {
    ///   union {
    ///     g1 :group {
    ///       f2 @4 :Void;
    ///       f3 @23 :Void;
    ///       union {
    ///         g4 :group {
    ///           f5 @7 :UInt32;
    ///         }
    ///         u6 :union {
    ///           f7 @0 :Bool;
    ///           f8 @8 :Void;
    ///         }
    ///         g9 :group {
    ///           f10 @21 :Text;
    ///           f11 @22 :Void;
    ///           f12 @20 :UInt32;
    ///         }
    ///       }
    ///     }
    ///     f13 @18 :Bool;
    ///   }
    ///   f14 @19 :UInt16;
    ///   u15 @3! :union {
    ///     f16 @14 :UInt8;
    ///     g17 :group {
    ///       u18 @24! :union {
    ///         g19 :group {
    ///           f20 @9 :Text;
    ///           f21 @13 :Bool;
    ///           f22 @2 :UInt8;
    ///           f23 @15 :Bool;
    ///         }
    ///         f24 @11 :Bool;
    ///         u25 :union {
    ///           f26 @12 :Bool;
    ///           f27 @5 :UInt16;
    ///           f28 @6 :UInt32;
    ///           f29 @17 :UInt8;
    ///         }
    ///       }
    ///     }
    ///     f30 @16 :UInt64;
    ///     f31 @1 :Void;
    ///   }
    ///   f32 @10 :Bool;
    /// }
    /// ```
    #[test]
    fn union_ordinal_errors_and_issue_344() {
        differential(
            &[
                union(vec![
                    group(vec![
                        f(4, V),
                        f(23, V),
                        union(vec![
                            group(vec![f(7, B32)]),
                            union(vec![f(0, B1), f(8, V)]),
                            group(vec![f(21, P), f(22, V), f(20, B32)]),
                        ]),
                    ]),
                    f(18, B1),
                ]),
                f(19, B16),
                union_at(
                    3,
                    vec![
                        f(14, B8),
                        group(vec![union_at(
                            24,
                            vec![
                                group(vec![f(9, P), f(13, B1), f(2, B8), f(15, B1)]),
                                f(11, B1),
                                union(vec![f(12, B1), f(5, B16), f(6, B32), f(17, B8)]),
                            ],
                        )]),
                        f(16, B64),
                        f(1, V),
                    ],
                ),
                f(10, B1),
            ],
            None,
            &[
                LayoutError::Issue344 {
                    at: LayoutItem::Field(18),
                },
                LayoutError::UnionOrdinalTooLate { union_index: 3 },
                LayoutError::UnionOrdinalTooLate { union_index: 4 },
            ],
        );
    }

    #[test]
    fn empty_struct() {
        check(&[], 0, 0, &[], &[]);
    }

    #[test]
    fn data_section_limit() {
        let fits: Vec<_> = (0..=u16::MAX).map(|i| f(i, B64)).collect();
        let result = lay_out(&fits[..usize::from(u16::MAX)]);
        assert_eq!(result.errors, []);
        assert_eq!(result.data_words, u16::MAX);
        let result = lay_out(&fits);
        assert_eq!(result.errors, [LayoutError::TooLarge]);
    }

    #[test]
    fn oversized_field_is_rejected() {
        let result = lay_out(&[f(0, B8), f(1, SlotSize::Data { lg_bits: 7 })]);
        assert_eq!(
            result.errors,
            [LayoutError::InvalidFieldSize { field_index: 1 }]
        );
        assert_eq!(result.data_words, 1);
    }

    #[test]
    fn nesting_limit() {
        let mut member = f(0, B1);
        for _ in 0..MAX_NESTING {
            member = group(vec![member]);
        }
        assert_eq!(lay_out(std::slice::from_ref(&member)).errors, []);
        let too_deep = group(vec![union(vec![member, f(1, V)])]);
        let result = lay_out(&[too_deep]);
        assert_eq!(result.errors, [LayoutError::TooDeep]);
        assert_eq!(
            (
                result.field_offsets.len(),
                result.discriminant_offsets.len()
            ),
            (2, 1)
        );
    }

    /// Unions the caller should have rejected (fewer than two members, empty groups) still get a
    /// discriminant, placed after all fields.
    #[test]
    fn degenerate_unions_get_discriminants_last() {
        let members = [
            union(vec![f(0, B16)]),
            f(1, B8),
            union(vec![]),
            union(vec![group(vec![]), f(2, V)]),
        ];
        let result = lay_out(&members);
        assert_eq!(result.errors, []);
        assert_eq!(result.field_offsets, [0, 2, 0]);
        assert_eq!(result.discriminant_offsets, [2, 3, 4]);
        assert_no_overlap(&members, &result);
    }

    /// Arbitrary trees, including invalid ones (duplicate ordinals, empty unions and groups,
    /// oversized fields, deep nesting): no panic, and whatever is laid out without error has no
    /// overlaps.
    #[test]
    fn random_trees_never_panic_or_overlap() {
        struct Rng(u64);
        impl Rng {
            fn below(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }
        }
        fn tree(rng: &mut Rng, depth: usize, budget: &mut usize) -> Vec<LayoutMember> {
            let count = rng.below(5) as usize;
            let mut members = Vec::new();
            for _ in 0..count {
                if *budget == 0 {
                    break;
                }
                *budget -= 1;
                let ordinal = rng.below(40) as u16;
                let kind = if depth > 120 { 0 } else { rng.below(10) };
                members.push(match kind {
                    0..=5 => f(
                        ordinal,
                        match rng.below(9) {
                            0 => V,
                            1 | 2 => P,
                            n => SlotSize::Data {
                                lg_bits: if n == 8 {
                                    rng.below(9) as u8
                                } else {
                                    (n - 3) as u8
                                },
                            },
                        },
                    ),
                    6 | 7 => LayoutMember::Union {
                        ordinal: (rng.below(3) == 0).then_some(ordinal),
                        members: tree(rng, depth + 1, budget),
                    },
                    _ => group(tree(rng, depth + 1, budget)),
                });
            }
            members
        }

        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut clean = 0;
        for round in 0..3000 {
            let mut budget = if round % 100 == 0 { 2000 } else { 60 };
            let members = tree(&mut rng, 0, &mut budget);
            let result = lay_out(&members);
            assert!(
                !result.errors.contains(&LayoutError::Internal),
                "{members:?}"
            );
            if result.errors.is_empty() {
                clean += 1;
                assert_no_overlap(&members, &result);
            }
        }
        assert!(clean > 1000, "only {clean} trees without errors");
    }
}
