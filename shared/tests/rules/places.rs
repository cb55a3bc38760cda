//! Places for interest management: inside each town hall, its island's grounds, the sea.

use archipelago_shared::world::{Place, checkout_world as world};
use bevy::math::{Vec2, Vec3};

#[test]
fn halls_grounds_and_sea_are_told_apart() {
    let world = world();
    for (i, protocity) in world.protocities.iter().enumerate() {
        let island = &protocity.island;
        let hall = &island.town_hall;
        let centre = island.to_world(hall.center, 0.1);
        assert_eq!(
            world.place_at(centre),
            Place::Hall(i),
            "{}: hall",
            protocity.id
        );
        let door = island.to_world(hall.door_outside(), 0.1);
        assert_eq!(
            world.place_at(door),
            Place::Grounds(i),
            "{}: door",
            protocity.id
        );
        let spawn = world.spawn_position(protocity, 0);
        assert_eq!(
            world.place_at(spawn),
            Place::Grounds(i),
            "{}: spawn",
            protocity.id
        );
        // Out at sea, just past the beach: still this island's grounds.
        let offshore = island.position + Vec2::X * (island.radius + 30.0);
        let offshore = Vec3::new(offshore.x, 0.0, offshore.y);
        assert_eq!(
            world.place_at(offshore),
            Place::Grounds(i),
            "{}: sea",
            protocity.id
        );
    }
}
