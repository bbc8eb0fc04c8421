fn main() {
    let dev = std::env::args().nth(1).unwrap_or("auto".into());
    let d = credit_assign::device::parse_device(&dev).unwrap();
    println!("{d:?}");
    let t = tch::Tensor::randn([2, 3], (tch::Kind::Float, d));
    t.print();
}
