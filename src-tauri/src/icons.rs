//! Tray icons drawn in code, one colour per state family: a filled disc with a light ring.

use yam_supervisor::status::Tone;

pub const SIZE: u32 = 32;

pub fn colour(tone: Tone) -> [u8; 3] {
    match tone {
        Tone::Ok => [0x1f, 0x9d, 0x55],
        Tone::Busy => [0xd9, 0x9a, 0x06],
        Tone::Warn => [0xe0, 0x70, 0x1b],
        Tone::Bad => [0xd0, 0x34, 0x2c],
        Tone::Off => [0x8a, 0x93, 0xa3],
    }
}

/// RGBA pixels of the icon for `tone`.
pub fn rgba(tone: Tone) -> Vec<u8> {
    let [r, g, b] = colour(tone);
    let c = (SIZE as f32 - 1.0) / 2.0;
    let mut pixels = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
            let (rgb, alpha) = if d <= 12.5 {
                ([r, g, b], 255)
            } else if d <= 15.0 {
                ([255, 255, 255], 230)
            } else if d <= 15.8 {
                ([255, 255, 255], 90)
            } else {
                ([0, 0, 0], 0)
            };
            pixels.extend_from_slice(&[rgb[0], rgb[1], rgb[2], alpha]);
        }
    }
    pixels
}

pub fn image(tone: Tone) -> tauri::image::Image<'static> {
    tauri::image::Image::new_owned(rgba(tone), SIZE, SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_has_its_own_colour() {
        let centre = ((SIZE / 2) * SIZE + SIZE / 2) as usize * 4;
        let colours: Vec<[u8; 4]> = [Tone::Ok, Tone::Busy, Tone::Warn, Tone::Bad, Tone::Off]
            .into_iter()
            .map(|t| {
                let p = rgba(t);
                assert_eq!(p.len(), (SIZE * SIZE * 4) as usize);
                assert_eq!(p[3], 0, "corners are transparent");
                [p[centre], p[centre + 1], p[centre + 2], p[centre + 3]]
            })
            .collect();
        for (i, a) in colours.iter().enumerate() {
            assert_eq!(a[3], 255);
            for b in &colours[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
